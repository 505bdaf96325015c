"""The monitor's write path: scheduling, claiming due checks, recording what was seen.

State changes go through ``takedown.cases.services.site_try_transition``, which
also makes the next step due (closing after ``down``, a new notice after
``revived``); the hand-offs without a state change, a located site seen up and
the screenshot of the evidence a check stores, are written here as ``Work``
rows in the same transaction (``takedown/loop.py``).
docs/monitor.md explains the rules; the numbered steps below follow it.
"""

from __future__ import annotations

import ipaddress
import logging
import random
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connections, router, transaction
from django.db.models import Field, Model
from django.utils import timezone

from takedown.cases.models import DOWN_STATES, Event, EventKind, Site, SiteKind, SiteState, Step
from takedown.cases.services import event_record, site_try_transition
from takedown.cases.work import work_schedule
from takedown.monitor.checker import Observation, Target, discard_sample
from takedown.monitor.content import Reference
from takedown.monitor.models import (
    Check,
    Evidence,
    ScreenshotState,
    Verdict,
    Watch,
)
from takedown.monitor.outcomes import NOT_LOOKED

log = logging.getLogger(__name__)

# States whose sites are checked.  REPORTED sites are not located yet;
# REJECTED and UNRESOLVABLE ones are out of the loop.
CHECKED_STATES = (
    SiteState.LOCATED,
    SiteState.NOTIFIED,
    SiteState.REVIVED,
    SiteState.DOWN,
    SiteState.CLOSED,
    SiteState.ALREADY_DOWN,
)
OPEN_CHECKED = {SiteState.LOCATED, SiteState.NOTIFIED, SiteState.REVIVED}
# Earlier sites whose successors count as recurrences: every located site
# that was not rejected (a false positive hosts nothing).  Not a state that
# says "acted on": whether the earlier site was notified yet when the later
# one is located is a race between two reports, and a link must not depend on it.
RECURRENCE_OF_STATES = (
    SiteState.LOCATED,
    SiteState.NOTIFIED,
    SiteState.DOWN,
    SiteState.CLOSED,
    SiteState.REVIVED,
    SiteState.ALREADY_DOWN,
)


def lease_seconds() -> float:
    """How long a claimed check is ours without renewal (``TAKEDOWN_MONITOR_LEASE``).

    A monitor killed in the middle of a round leaves its sites unchecked this
    long; a live one renews the lease of its unrecorded checks (``checks_extend``)
    however long its batch takes.
    """
    return float(settings.MONITOR_LEASE)


def _lease_marker(now: datetime) -> datetime:
    # Random microseconds make the marker unique to one claim (or renewal).
    return now + timedelta(seconds=lease_seconds(), microseconds=random.randrange(1, 999_999))


# --- scheduling -----------------------------------------------------------------


def sites_schedule(site_ids: Sequence[int]) -> int:
    """Sites were (re)located: link recurrences, then make their first check due now.

    1. Historical sites and sites no longer located are left alone.
    2. Each site is linked to an earlier site on the same server, IP or prefix
       (``site_link_recurrence``) before its first check, so the notice planned
       after that check already knows it is a recurrence.
    3. The site's watch starts afresh: its next checks decide between "seen
       up" and "already down" again (and a run of inconclusive ones starts over).
    4. ``next_check`` = now; the monitor loop picks it up.
    """
    sites = list(
        Site.objects.filter(pk__in=list(site_ids), historical=False, state=SiteState.LOCATED)
    )
    for site in sites:
        try:
            site_link_recurrence(site)
        except Exception:
            # A recurrence link is a courtesy; it must never keep a site unchecked.
            log.exception("recurrence linking failed for site %s", site.pk)
    ids = [s.pk for s in sites]
    Watch.objects.filter(site_id__in=ids).update(
        decided=False, down_streak=0, inconclusive_streak=0, inconclusive_since=None
    )
    return Site.objects.filter(pk__in=ids).update(next_check=timezone.now())


# A prefix this wide is a whole ISP or cloud: sharing it says nothing about a
# recurrence.  Narrower ones are a hosting customer's block.
RECURRENCE_PREFIX_MIN = {4: 24, 6: 48}


def _located_prefix(site_id: int) -> str:
    """The network the locate step found for the site, if narrow enough to mean a server."""
    event = (
        Event.objects.filter(site_id=site_id, kind=EventKind.LOCATE_DONE)
        .order_by("-at", "-id")
        .only("data")
        .first()
    )
    if event is None or not isinstance(event.data, dict):
        return ""
    prefix = event.data.get("prefix")
    if not isinstance(prefix, str) or not prefix:
        return ""
    try:
        net = ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return ""
    return prefix if net.prefixlen >= RECURRENCE_PREFIX_MIN[net.version] else ""


def site_link_recurrence(site: Site) -> Event | None:
    """Link ``site`` to the most recent earlier site on the same server, IP or prefix.

    "server" is the same host name (a re-installed kit on a compromised
    server), "ip" the same address (another site on a shared host), "prefix"
    the same network as located, when it is a /24 (IPv6: /48) or narrower (an
    abused hosting block; a wider one is a whole provider).  Sites named in a
    common report were reported together: one case, not a recurrence.  Both
    timelines get a ``site.recurrence`` event with ``{"of": earlier, "by":
    ..., "site": new}``.
    """
    if site.recurrence_of_id is not None:
        return None
    earlier = (
        Site.objects.filter(state__in=RECURRENCE_OF_STATES, created__lte=site.created)
        .exclude(pk=site.pk)
        .exclude(reports__sites=site)
        .order_by("-created", "-pk")
    )
    match: Site | None = None
    by = ""
    if site.host:
        match, by = earlier.filter(host=site.host).first(), "server"
    if match is None and site.ip:
        match, by = earlier.filter(ip=site.ip).first(), "ip"
    if match is None:
        prefix = _located_prefix(site.pk)
        if prefix:
            same_prefix = Event.objects.filter(
                kind=EventKind.LOCATE_DONE, data__prefix=prefix
            ).values("site_id")
            match, by = earlier.filter(pk__in=same_prefix).first(), "prefix"
    if match is None:
        return None
    data = {"of": match.pk, "by": by, "site": site.pk}
    with transaction.atomic():
        Site.objects.filter(pk=site.pk).update(recurrence_of=match)
        site.recurrence_of = match
        event = event_record(
            kind=EventKind.SITE_RECURRENCE,
            site=site,
            organization=site.organization,
            data=data,
            message=f"same {by} as site {match.pk}",
        )
        event_record(
            kind=EventKind.SITE_RECURRENCE,
            site=match,
            organization=site.organization,
            data=data,
            message=f"site {site.pk} appeared on the same {by}",
        )
    return event


def next_check_for(
    state: str, *, now: datetime, state_changed: datetime | None, watch_until: datetime | None
) -> datetime | None:
    """When to look again.

    Open sites (located, notified, revived): every CHECK_INTERVAL.  Sites that
    are down: a quarter of the time since they went down, between
    CHECK_INTERVAL and WATCH_INTERVAL_MAX, until ``watch_until``.  Others: never.
    """
    base = timedelta(seconds=settings.CHECK_INTERVAL)
    if state in OPEN_CHECKED:
        return now + base
    if state in DOWN_STATES:
        if watch_until is not None and now >= watch_until:
            return None
        age = now - (state_changed or now)
        interval = min(max(age / 4, base), timedelta(seconds=settings.WATCH_INTERVAL_MAX))
        due = now + interval
        if watch_until is not None:
            due = min(due, watch_until)
        return due
    return None


def inconclusive_retry_at(streak: int, *, now: datetime, due: datetime | None) -> datetime | None:
    """When to try again after the ``streak``-th inconclusive check in a row.

    INCONCLUSIVE_RETRY, doubling with each one, but never later than ``due``
    (the site's usual next check); ``None`` stays ``None`` (no more checks).
    """
    if due is None:
        return None
    delay = settings.INCONCLUSIVE_RETRY * 2 ** min(max(streak - 1, 0), 30)
    return min(due, now + timedelta(seconds=delay))


# --- claiming ----------------------------------------------------------------------


def checks_claim(limit: int, *, now: datetime | None = None) -> list[Target]:
    """Claim up to ``limit`` due sites for this process and describe them as Targets.

    Several monitor processes may run: each claims with a conditional UPDATE
    that moves ``next_check`` from "due" to a lease marker unique to this claim,
    then reads back the rows carrying its marker.  A row another process took
    first no longer matches ``next_check <= now`` and is not ours.  (Two claims
    drawing the same random microsecond at once would both check a site: a
    duplicate Check row, harmless, with odds of about one in a million.)  The
    lease is short (``TAKEDOWN_MONITOR_LEASE``) and the live monitor renews it
    (``checks_extend``) until each check is recorded; a process that dies
    leaves its sites due again when the lease runs out.  Each Target carries
    the claim's marker (``Target.lease``) for those renewals.
    """
    now = now or timezone.now()
    due = list(
        Site.objects.filter(next_check__lte=now, historical=False, state__in=CHECKED_STATES)
        .order_by("next_check")
        .values_list("pk", flat=True)[:limit]
    )
    if not due:
        return []
    marker = _lease_marker(now)
    Site.objects.filter(pk__in=due, next_check__lte=now).update(next_check=marker)
    sites = list(
        Site.objects.filter(pk__in=due, next_check=marker).only("pk", "url", "kind", "brand")
    )
    return targets_for(sites, lease=marker)


def checks_extend(
    site_ids: Iterable[int], *, marker: datetime, now: datetime | None = None
) -> datetime:
    """Renew a live claim: move its sites still on ``marker`` to a fresh lease marker.

    The monitor calls it every third of the lease for the checks of its batch
    not recorded yet.  Only rows still carrying ``marker`` move: a recorded
    site has its next check time instead, and a site another process claimed
    after this lease ran out carries that claim's marker, so a late renewal
    never takes a site back nor pushes a recorded check away.  Returns the
    new marker (the one to renew next time).
    """
    now = now or timezone.now()
    fresh = _lease_marker(now)
    Site.objects.filter(pk__in=list(site_ids), next_check=marker).update(next_check=fresh)
    return fresh


def targets_for(sites: Iterable[Site], *, lease: datetime | None = None) -> list[Target]:
    sites = list(sites)
    refs: dict[int, Reference] = {}
    rows = (
        Evidence.objects.filter(site_id__in=[s.pk for s in sites])
        .order_by("site_id", "at", "id")
        .values_list(
            "site_id", "sha256", "is_html", "title", "form_fields", "has_password", "brand_hits"
        )
    )
    for site_id, sha, is_html, title, fields, password, brands in rows:
        refs.setdefault(
            site_id,
            Reference(
                sha256=sha,
                is_html=is_html,
                title=title,
                form_fields=tuple(fields or ()),
                has_password=password,
                brand_hits=tuple(brands or ()),
            ),
        )
    return [
        Target(
            site_id=s.pk,
            url=s.url,
            kind=s.kind,
            brand=s.brand,
            reference=refs.get(s.pk),
            needs_evidence=s.pk not in refs,
            keep_sample=bool(
                settings.KEEP_MALWARE and s.kind == SiteKind.MALWARE and s.pk not in refs
            ),
            lease=lease,
        )
        for s in sites
    ]


# --- recording --------------------------------------------------------------------


# What recording reads of each site (the rest of the row stays on disk).
RECORD_FIELDS = (
    "pk",
    "url",
    "kind",
    "state",
    "state_changed",
    "watch_until",
    "next_check",
    "organization_id",
)


def observations_record(observations: Sequence[Observation]) -> list[Check]:
    """Store the Checks of a batch and act on them.

    1. One Check row per observation (bulk insert).
    2. The site's Watch counters: checks, down streak, inconclusive streak, last up.
    3. State, per the loop (takedown/loop.py), on verdicts (down only on
       positive evidence, docs/monitor.md "Outcomes"):
       - the first up or down check since the site was located decides:
         up -> evidence + the notice step (``Step.NOTICE_PLAN``);
         down -> ``already_down`` (watched);
       - INCONCLUSIVE_NOTIFY_AFTER inconclusive checks in a row, before any
         up or down one -> ``site.unverified`` + the notice step (notified anyway);
       - ``CONFIRM_DOWN`` down checks in a row of an open site (inconclusive
         ones skipped) -> ``down`` (whose closing step tells the reporter and
         closes it);
       - an up check of a down/closed/already-down site within its watch
         window -> ``revived`` (whose notice step notifies again).
    4. Evidence from the first up check of a site that has none.
    5. The next check time (``next_check_for``; sooner, with backoff, after
       an inconclusive check).
    """
    if not observations:
        return []
    now = timezone.now()
    ids = [o.target.site_id for o in observations]
    # One transaction per chunk: a commit per row would cost more than the checks.
    # State changes and evidence run in savepoints (nested atomic blocks), so one
    # site's failure rolls back only its own writes.  The work they call for is
    # written in the same transaction: a crash loses both or neither.
    seen_up: list[int] = []
    with transaction.atomic():
        sites = Site.objects.only(*RECORD_FIELDS).in_bulk(ids)
        observations = [o for o in observations if o.target.site_id in sites]
        checks = Check.objects.bulk_create([_check_row(o) for o in observations])
        watches = Watch.objects.in_bulk(list(sites))
        missing = [Watch(site_id=i) for i in sites if i not in watches]
        if missing:
            Watch.objects.bulk_create(missing, ignore_conflicts=True)
            watches = Watch.objects.in_bulk(list(sites))
        new_evidence: dict[int, Evidence] = {}
        for obs, check in zip(observations, checks, strict=True):
            site = sites[obs.target.site_id]
            try:
                if _apply(site, watches[site.pk], obs, check, now, new_evidence):
                    seen_up.append(site.pk)
            except Exception:
                # One site's trouble must not lose the batch's other results.
                log.exception("recording check of site %s failed", site.pk)
            finally:
                discard_sample(obs)
        _update_rows(
            Watch,
            [
                "checks",
                "down_streak",
                "decided",
                "last_outcome",
                "last_checked",
                "last_up",
                "inconclusive_streak",
                "inconclusive_since",
            ],
            watches.values(),
        )
        _update_rows(Site, ["next_check"], sites.values())
        evidences_save(list(new_evidence.values()))
        work_schedule(step=Step.NOTICE_PLAN, ids=seen_up)
    return checks


def _update_rows(model: type[Model], fields: list[str], objs: Iterable[Model]) -> None:
    """``UPDATE ... WHERE pk = %s`` for many rows in one executemany.

    Django's ``bulk_update`` builds a CASE expression per row and field, which
    costs more than the checks themselves at thousands of rows per second.
    """
    meta = model._meta
    columns: list[Field[Any, Any]] = []
    for name in fields:
        field = meta.get_field(name)
        assert isinstance(field, Field)
        columns.append(field)
    pk = meta.pk
    assert pk is not None and pk.column is not None
    connection = connections[router.db_for_write(model)]
    qn = connection.ops.quote_name
    sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608 - names from model metadata
        qn(meta.db_table),
        ", ".join(f"{qn(str(c.column))} = %s" for c in columns),
        qn(pk.column),
    )
    rows = [
        [*(c.get_db_prep_save(getattr(o, c.attname), connection) for c in columns), o.pk]
        for o in objs
    ]
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)


def _check_row(obs: Observation) -> Check:
    r = obs.result
    return Check(
        site_id=obs.target.site_id,
        at=obs.at,
        outcome=obs.outcome,
        status=r.status if r.status is not None and 0 < r.status < 1000 else None,
        ip=r.ip,
        final_url=(r.final_url or r.url)[:2048],
        body_hash=r.body_sha256 if r.status else "",
        size=min(r.size, 2**31 - 1) if r.status else None,
        latency_ms=min(int(r.elapsed * 1000), 2**31 - 1),
        agent=r.agent,
        truncated=r.truncated,
        detail=obs.detail[:300],
        other_agent=obs.other_agent,
        other_outcome=obs.other_outcome,
        other_detail=obs.other_detail[:300],
        verdict=obs.verdict,
        cert_error=r.cert_error[:300],
    )


def _apply(
    site: Site,
    watch: Watch,
    obs: Observation,
    check: Check,
    now: datetime,
    new_evidence: dict[int, Evidence],
) -> bool:
    """Apply one observation to its site; True when a located site is to be notified.

    That is when it is first seen up, or when its first checks stayed
    inconclusive for long enough (``_inconclusive``).
    """
    seen_up = False
    outcome = obs.outcome
    watch.checks += 1
    watch.last_outcome = outcome
    watch.last_checked = check.at
    data = {"check": check.pk, "outcome": outcome, "status": check.status}
    if obs.verdict != Verdict.INCONCLUSIVE:
        watch.inconclusive_streak = 0
        watch.inconclusive_since = None
    if obs.verdict == Verdict.UP:
        watch.down_streak = 0
        watch.last_up = check.at
        if obs.target.needs_evidence and site.pk not in new_evidence:
            new_evidence[site.pk] = evidence_build(site, obs, check)
        if site.state == SiteState.LOCATED and not watch.decided:
            watch.decided = seen_up = True
        elif site.state in DOWN_STATES:
            watch.decided = True
            if site.watch_until is None or now <= site.watch_until:
                site.watch_until = None
                site_try_transition(
                    site,
                    SiteState.REVIVED,
                    kind=EventKind.SITE_REVIVED,
                    message=f"up again: {obs.detail}"[:500],
                    data=data,
                    update_fields=["watch_until"],
                )
    elif obs.verdict == Verdict.DOWN:
        watch.down_streak += 1
        if site.state == SiteState.LOCATED and not watch.decided:
            watch.decided = True
            site.watch_until = now + timedelta(seconds=settings.WATCH_FOR)
            site_try_transition(
                site,
                SiteState.ALREADY_DOWN,
                kind=EventKind.SITE_ALREADY_DOWN,
                message=f"down at the first check: {obs.detail}"[:500],
                data=data,
                update_fields=["watch_until"],
            )
        elif site.state in OPEN_CHECKED and watch.down_streak >= settings.CONFIRM_DOWN:
            site.watch_until = now + timedelta(seconds=settings.WATCH_FOR)
            site_try_transition(
                site,
                SiteState.DOWN,
                kind=EventKind.SITE_DOWN,
                message=f"down {watch.down_streak} checks in a row: {obs.detail}"[:500],
                data={**data, "streak": watch.down_streak},
                update_fields=["watch_until"],
            )
    else:
        seen_up = _inconclusive(site, watch, obs, check, data)
    site.next_check = next_check_for(
        site.state, now=now, state_changed=site.state_changed, watch_until=site.watch_until
    )
    if obs.verdict == Verdict.INCONCLUSIVE:
        site.next_check = inconclusive_retry_at(
            watch.inconclusive_streak, now=now, due=site.next_check
        )
    return seen_up


def _inconclusive(
    site: Site, watch: Watch, obs: Observation, check: Check, data: dict[str, Any]
) -> bool:
    """A check that proves nothing: count the run; True when the site is to be notified anyway.

    Neither the down streak nor the state move.  A ``located`` site never seen
    up or down is notified after INCONCLUSIVE_NOTIFY_AFTER such checks in a
    row (not when we refused to look: ``blocked``, ``internal``).
    """
    watch.inconclusive_streak += 1
    if watch.inconclusive_since is None:
        watch.inconclusive_since = check.at
    if not (
        site.state == SiteState.LOCATED
        and not watch.decided
        and watch.inconclusive_streak >= settings.INCONCLUSIVE_NOTIFY_AFTER
        and obs.outcome not in NOT_LOOKED
    ):
        return False
    # A savepoint like the state changes': a failure here loses only this site's writes.
    with transaction.atomic():
        event_record(
            kind=EventKind.SITE_UNVERIFIED,
            site=site,
            organization=site.organization,
            data={**data, "streak": watch.inconclusive_streak},
            message=(
                f"no check conclusive ({watch.inconclusive_streak} in a row), "
                f"notified on the report: {obs.detail}"
            )[:500],
        )
    watch.decided = True
    return True


# --- evidence -------------------------------------------------------------------------


def evidence_build(site: Site, obs: Observation, check: Check) -> Evidence:
    """The Evidence row of a first up check, unsaved (the sample file is stored)."""
    r = obs.result
    facts = obs.facts
    is_download = site.kind == SiteKind.MALWARE and not (facts and facts.is_html)
    evidence = Evidence(
        site=site,
        check_ref=check,
        at=check.at,
        kind=Evidence.Kind.DOWNLOAD if is_download else Evidence.Kind.PAGE,
        url=site.url,
        final_url=(r.final_url or r.url)[:2048],
        ip=r.ip,
        status=r.status,
        agent=r.agent,
        headers=[[k, v] for k, v in r.headers],
        content_type=r.content_type,
        # A download's bytes are kept only as the zipped sample, and only if configured.
        body=b"" if is_download else r.body[: settings.FETCH_MAX_BODY],
        body_truncated=r.truncated,
        sha256=r.body_sha256,
        size=r.size,
        is_html=bool(facts and facts.is_html),
        title=facts.title if facts else "",
        form_fields=facts.form_fields if facts else [],
        has_password=bool(facts and facts.has_password),
        brand_hits=facts.brand_hits if facts else [],
        screenshot_state=(
            ScreenshotState.PENDING
            if settings.SCREENSHOTS and not is_download
            else ScreenshotState.SKIPPED
        ),
    )
    if obs.sample_path:
        evidence.sample.save(f"{r.body_sha256}.zip", ContentFile(_zip_sample(obs)), save=False)
    return evidence


def evidences_save(evidence: list[Evidence]) -> None:
    """Insert the batch's evidence and, in the same transaction, its screenshot steps."""
    if not evidence:
        return
    Evidence.objects.bulk_create(evidence)
    work_schedule(
        step=Step.SCREENSHOT,
        ids=[e.site_id for e in evidence if e.screenshot_state == ScreenshotState.PENDING],
    )


def _zip_sample(obs: Observation) -> bytes:
    """The sample in an AES zip with the password "infected" (what analysts expect)."""
    import io

    import pyzipper

    assert obs.sample_path is not None
    buf = io.BytesIO()
    with pyzipper.AESZipFile(
        buf, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
    ) as zf:
        zf.setpassword(b"infected")
        zf.write(obs.sample_path, arcname=obs.result.body_sha256 or "sample")
    return buf.getvalue()


def evidence_tmp_dir() -> str:
    path = Path(settings.DATA_DIR) / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def probe_targets(site_ids: Iterable[int] | None) -> list[Target]:
    """Targets for ``takedown probe``: the given sites, or every checked one."""
    qs = Site.objects.filter(historical=False)
    qs = (
        qs.filter(pk__in=list(site_ids))
        if site_ids is not None
        else qs.filter(state__in=CHECKED_STATES)
    )
    return targets_for(qs.only("pk", "url", "kind", "brand").order_by("pk"))
