"""One check of one site, in the event loop: fetch, classify, maybe try again as a phone.

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
from typing import IO

from takedown.lib.fetch import Fetcher, FetchResult
from takedown.monitor.content import PageFacts, Reference, page_facts, still_there

# Outcomes of a first try that a cloaking kit produces for the "wrong" visitor.
RETRY_AS_MOBILE = frozenset({"http_error", "content_gone"})


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


@dataclass
class Observation:
    target: Target
    outcome: str
    result: FetchResult
    at: datetime
    facts: PageFacts | None = None
    detail: str = ""
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
    """Check ``target`` once (twice when the desktop answer looks cloaked)."""
    first = await _observe_as(fetcher, target, "desktop", max_download, tmp_dir)
    if first.outcome not in RETRY_AS_MOBILE:
        return first
    second = await _observe_as(fetcher, target, "mobile", max_download, tmp_dir)
    if second.outcome == "up":
        second.detail = f"{second.detail}; desktop browser got {first.outcome}: {first.detail}"
        discard_sample(first)
        return second
    discard_sample(second)
    return first


async def _observe_as(
    fetcher: Fetcher, target: Target, agent: str, max_download: int, tmp_dir: str | None
) -> Observation:
    sink_file = None
    hash_limit = max_download if target.kind == "malware" else None
    if target.keep_sample:
        sink_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, kept on success
            prefix="sample-", dir=tmp_dir, delete=False
        )
    try:
        result = await fetcher.fetch(
            target.url,
            agent=agent,
            hash_limit=hash_limit,
            sink=_writer(sink_file) if sink_file is not None else None,
        )
    finally:
        if sink_file is not None:
            sink_file.close()
    outcome, facts, detail = classify(result, target)
    obs = Observation(
        target=target,
        outcome=outcome,
        result=result,
        at=datetime.now(UTC),
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
