"""One check of one site, in the event loop: fetch, classify, maybe try again as a phone.

A check is one observation with a verdict (``outcomes.verdict``): up, down, or
inconclusive.  Two things are tried before settling for less than up:

- a certificate the browser would warn about: fetched again without
  verification (victims click through), judged by the page, the certificate
  error recorded;
- an answer that is not up and may depend on who asks (a cloaking kit's 404,
  a 403, a timeout, a broken answer): tried again as an iPhone.

No database access here: the runner hands in plain :class:`Target` values and
records the :class:`Observation` values that come back, in its own thread.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from takedown.lib.fetch import Fetcher, FetchResult
from takedown.monitor import outcomes
from takedown.monitor.content import PageFacts, Reference, page_facts, still_there

# Outcomes decided before any HTTP is spoken: asking as another browser cannot change them.
SAME_FOR_EVERY_AGENT = frozenset({"nxdomain", "no_address", "dns_error", "refused", "unreachable"})


@dataclass(frozen=True)
class Target:
    site_id: int
    url: str
    kind: str = "phishing"
    brand: str = ""
    reference: Reference | None = None
    # No evidence yet: keep the body (and the sample, if configured) for it.
    needs_evidence: bool = False
    keep_sample: bool = False
    # The claim's lease marker (the site's ``next_check`` while this claim holds
    # it), which the runner renews; None for a check nobody claimed (``probe``).
    lease: datetime | None = None
    # What recording needs of the site (``services.Claimed``), read with the
    # claim so that recording does not read it again; None: read at recording.
    claimed: Any = None


@dataclass
class Observation:
    target: Target
    outcome: str
    result: FetchResult
    at: datetime
    verdict: str = outcomes.INCONCLUSIVE
    facts: PageFacts | None = None
    detail: str = ""
    # The other browser identity's answer, when both were asked (``Check.other_*``).
    other_agent: str = ""
    other_outcome: str = ""
    other_detail: str = ""
    sample_path: str | None = None
    notes: list[str] = field(default_factory=list)


def classify(result: FetchResult, target: Target) -> tuple[str, PageFacts | None, str]:
    """Outcome, page facts (for 2xx) and a one-line reason."""
    if result.error is not None:
        return result.error, None, result.detail
    status = result.status or 0
    if 200 <= status < 300:
        ref = target.reference
        if ref is not None and ref.sha256 == result.body_sha256 and not result.truncated:
            # The very bytes of the evidence: no need to parse the page again.
            return "up", None, "same content"
        facts = page_facts(result.body, result.content_type, target.brand)
        there, why = still_there(facts, result.body_sha256, target.reference)
        if result.truncated:
            why += f" (body capped at {result.size} bytes)"
        return ("up" if there else "content_gone"), facts, why
    return "http_error", None, f"HTTP {status} {result.reason}".strip()


async def observe(
    fetcher: Fetcher, target: Target, *, max_download: int, tmp_dir: str | None = None
) -> Observation:
    """Check ``target`` as a desktop browser, then as a phone unless that settled it.

    The phone's answer wins when it is up, or when it is down and the
    desktop's proved nothing; otherwise the desktop's stands.
    """
    first = await _observe_as(fetcher, target, "desktop", max_download, tmp_dir)
    if first.verdict == outcomes.UP or first.outcome in SAME_FOR_EVERY_AGENT:
        return first
    second = await _observe_as(fetcher, target, "mobile", max_download, tmp_dir)
    if second.verdict == outcomes.UP or (
        second.verdict == outcomes.DOWN and first.verdict == outcomes.INCONCLUSIVE
    ):
        kept, dropped = second, first
    else:
        kept, dropped = first, second
    kept.other_agent = dropped.result.agent
    kept.other_outcome = dropped.outcome
    kept.other_detail = dropped.detail
    discard_sample(dropped)
    return kept


async def _observe_as(
    fetcher: Fetcher, target: Target, agent: str, max_download: int, tmp_dir: str | None
) -> Observation:
    sink_file = None
    hash_limit = max_download if target.kind == "malware" else None
    if target.keep_sample:
        sink_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, kept on success
            prefix="sample-", dir=tmp_dir, delete=False
        )
    sink = _writer(sink_file) if sink_file is not None else None
    try:
        result = await fetcher.fetch(target.url, agent=agent, hash_limit=hash_limit, sink=sink)
        if result.cert_error:
            # The browser warns, the victim clicks through: judge what they then see.
            # (The refused handshake sent no body, so the sink is still empty.)
            cert_error = result.cert_error
            result = await fetcher.fetch(
                target.url, agent=agent, hash_limit=hash_limit, sink=sink, verify=False
            )
            result.cert_error = cert_error
    finally:
        if sink_file is not None:
            sink_file.close()
    outcome, facts, detail = classify(result, target)
    if result.cert_error:
        detail = f"{detail}; certificate not valid: {result.cert_error}"
    obs = Observation(
        target=target,
        outcome=outcome,
        result=result,
        at=datetime.now(UTC),
        verdict=outcomes.verdict(outcome, result.status),
        facts=facts,
        detail=detail,
    )
    if sink_file is not None:
        if outcome == "up":
            obs.sample_path = sink_file.name
        else:
            os.unlink(sink_file.name)
    if not (target.needs_evidence and outcome == "up"):
        # Bodies are only kept for the first evidence: a round holds hundreds of checks.
        result.body = b""
    return obs


def _writer(f: IO[bytes]) -> Callable[[bytes], None]:
    def write(data: bytes) -> None:
        f.write(data)

    return write


def discard_sample(obs: Observation) -> None:
    """Delete the temporary sample file of ``obs``, if any (it is not kept)."""
    if obs.sample_path:
        with contextlib.suppress(OSError):
            os.unlink(obs.sample_path)
        obs.sample_path = None
