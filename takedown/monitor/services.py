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
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import router, transaction
from django.db.models import Model
from django.db.models.base import ModelState
from django.utils import timezone

from takedown.cases.models import DOWN_STATES, Event, EventKind, Site, SiteKind, SiteState, Step
from takedown.cases.services import event_record, site_try_transition
from takedown.cases.work import work_schedule
from takedown.lib.bulk import insert_rows_returning_ids, update_rows
from takedown.monitor.checker import Observation, Target, discard_sample
from takedown.monitor.content import Reference
from takedown.monitor.models import (
    RUN_KEY,
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
    """The claimed sites as Targets, each with what recording will need (``Claimed``).

    Two queries for the batch: the sites with their Watch and current run
    (``claimed_read``), and the fingerprints of their first evidence.
    """
    ids = [s.pk for s in sites]
    claimed = claimed_read(ids)
    refs: dict[int, Reference] = {}
    rows = (
        Evidence.objects.filter(site_id__in=list(claimed))
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
    targets = []
    for site_id in ids:
        c = claimed.get(site_id)
        if c is None:
            continue  # deleted since
        url, kind, brand = c.site[_URL], c.site[_KIND], c.site[_BRAND]
        targets.append(
            Target(
                site_id=site_id,
                url=url,
                kind=kind,
                brand=brand,
                reference=refs.get(site_id),
                needs_evidence=site_id not in refs,
                keep_sample=bool(
                    settings.KEEP_MALWARE and kind == SiteKind.MALWARE and site_id not in refs
                ),
                lease=lease,
                claimed=c,
            )
        )
    return targets


# --- what recording needs, read with the claim -------------------------------------


_M = TypeVar("_M", bound=Model)


def _loaded(model: type[_M], db: str, names: Sequence[str], values: Sequence[Any]) -> _M:
    """A model instance of a row already read, with only ``names`` loaded (the rest deferred).

    What ``Model.from_db`` makes, without its ``__init__`` walking every field
    of the model and sending ``pre_init``/``post_init`` (a tenth of recording a
    re-check).  Deferred fields are those missing from ``__dict__``, as Django
    itself decides.
    """
    obj = model.__new__(model)
    obj.__dict__.update(zip(names, values, strict=True))
    state = ModelState()
    state.adding, state.db = False, db
    obj._state = state
    return obj


def _in_model_order(model: type[Model], names: set[str]) -> tuple[str, ...]:
    """``names`` (attnames) in the order of the model's columns, as ``Model.from_db`` reads them."""
    ordered = tuple(f.attname for f in model._meta.concrete_fields if f.attname in names)
    assert len(ordered) == len(names), names - set(ordered)
    return ordered


# The Site fields recording reads.
CLAIMED_SITE = _in_model_order(
    Site,
    {"id", "url", "kind", "brand", "state", "state_changed", "watch_until", "organization_id"},
)
_URL, _KIND, _BRAND = (CLAIMED_SITE.index(f) for f in ("url", "kind", "brand"))
# The Watch fields (all its columns: the row is written back whole).
CLAIMED_WATCH = _in_model_order(Watch, {f.attname for f in Watch._meta.concrete_fields})
_CLAIMED_LOOKUPS = (
    *("pk" if f == "id" else f.removesuffix("_id") for f in CLAIMED_SITE),
    *("watch__" + ("pk" if f == "site_id" else f.removesuffix("_id")) for f in CLAIMED_WATCH),
    *("watch__run__" + f for f in RUN_KEY),
)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed site as recording needs it: its row, its Watch and its current run's key.

    Read in one query with the claim (``targets_for``), so that recording a
    check does not read the site again: while the claim holds, only this
    monitor changes the site's Watch and runs, and a state another step
    changed meanwhile is read again in the recording transaction (one
    index-only query for the chunk) and re-checked by ``site_try_transition``.
    """

    site: tuple[Any, ...]
    watch: tuple[Any, ...] | None
    run_key: tuple[Any, ...] | None


def claimed_read(site_ids: Sequence[int]) -> dict[int, Claimed]:
    """``Claimed`` for each of ``site_ids`` that exists: one query (sites, watches, runs)."""
    n_site, n_watch = len(CLAIMED_SITE), len(CLAIMED_WATCH)
    out: dict[int, Claimed] = {}
    for row in Site.objects.filter(pk__in=list(site_ids)).values_list(*_CLAIMED_LOOKUPS):
        site = row[:n_site]
        watch = row[n_site : n_site + n_watch]
        has_watch = watch[_WATCH_PK] is not None
        has_run = has_watch and watch[_WATCH_RUN] is not None
        out[site[0]] = Claimed(
            site=site,
            watch=watch if has_watch else None,
            run_key=tuple(row[n_site + n_watch :]) if has_run else None,
        )
    return out


# --- recording --------------------------------------------------------------------


def observations_record(observations: Sequence[Observation]) -> list[Check]:
    """Store the Checks of a batch and act on them.

    1. Each observation joins its site's current run of equal checks (an
       UPDATE of ``last_at`` and ``count``) or starts a new one (an INSERT);
       ``RUN_KEY`` says which fields make two checks equal.  A new run records
       which of them changed.
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

    The site, its Watch and its run were read with the claim
    (``Target.claimed``); here only the sites' states are read again. Rows
    are written in bulk with prepared statements (``takedown.lib.bulk``).
    Returns one Check per observation as observed, whose ``pk`` is the run
    that holds it.
    """
    if not observations:
        return []
    now = timezone.now()
    ids = [o.target.site_id for o in observations]
    claimed: dict[int, Claimed] = {
        o.target.site_id: o.target.claimed
        for o in observations
        if isinstance(o.target.claimed, Claimed)
    }
    # One transaction per chunk: a commit per row would cost more than the checks.
    # State changes and evidence run in savepoints (nested atomic blocks), so one
    # site's failure rolls back only its own writes.  The work they call for is
    # written in the same transaction: a crash loses both or neither.
    seen_up: list[int] = []
    with transaction.atomic():
        missing = [i for i in ids if i not in claimed]
        if missing:
            claimed.update(claimed_read(missing))
        # Whether each site still exists, and its state now (a handler or
        # another step may have moved it since the claim).
        states = dict(Site.objects.filter(pk__in=ids).values_list("pk", "state"))
        observations = [o for o in observations if o.target.site_id in states]
        db = router.db_for_write(Site)
        sites: dict[int, Site] = {}
        watches: dict[int, Watch] = {}
        for obs in observations:
            site_id = obs.target.site_id
            c = claimed[site_id]
            site = Site.from_db(db, CLAIMED_SITE, c.site)
            site.state = states[site_id]
            sites[site_id] = site
            watches[site_id] = (
                Watch.from_db(db, CLAIMED_WATCH, c.watch)
                if c.watch is not None
                else Watch(site=site)
            )
        new_watches = [w for w in watches.values() if w._state.adding]
        if new_watches:
            # Another monitor may create the same row at once: theirs or ours, then update.
            Watch.objects.bulk_create(
                [Watch(site_id=w.site_id) for w in new_watches], ignore_conflicts=True
            )
        checks = _runs_record(observations, claimed, watches)
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
        update_rows(
            Watch,
            WATCH_WRITTEN,
            [[getattr(w, f) for f in WATCH_WRITTEN] + [w.site_id] for w in watches.values()],
        )
        update_rows(Site, ["next_check"], [(s.next_check, s.pk) for s in sites.values()])
        evidences_save(list(new_evidence.values()))
        work_schedule(step=Step.NOTICE_PLAN, ids=seen_up)
    return checks


_WATCH_PK, _WATCH_RUN = CLAIMED_WATCH.index("site_id"), CLAIMED_WATCH.index("run_id")
# The Watch columns recording writes back (its primary key is the site's).
WATCH_WRITTEN = [f for f in CLAIMED_WATCH if f != "site_id"]
# The Check columns a new run is inserted with: all of them but its id.
_CHECK_FIELDS = [f.name for f in Check._meta.concrete_fields if not f.primary_key]
_CHECK_ATTNAMES = [f.attname for f in Check._meta.concrete_fields if not f.primary_key]


def _runs_record(
    observations: Sequence[Observation], claimed: dict[int, Claimed], watches: dict[int, Watch]
) -> list[Check]:
    """Count each observation in its site's current run, or start a new run (step 1).

    A check equal to the run on ``RUN_KEY`` adds one to its ``count`` and moves
    its ``last_at`` (one executemany for the chunk); any other starts a run
    (one multi-row INSERT ... RETURNING), which becomes the Watch's ``run``.
    """
    checks = [_check_row(o) for o in observations]
    current: dict[int, tuple[int, tuple[Any, ...]]] = {}
    for obs in observations:
        site_id = obs.target.site_id
        c = claimed[site_id]
        run_id = watches[site_id].run_id
        if run_id is not None and c.run_key is not None:
            current[site_id] = (run_id, c.run_key)
    counted: list[tuple[Any, ...]] = []
    started: list[Check] = []
    for check in checks:
        key = check.run_key()
        run = current.get(check.site_id)
        if run is not None and run[1] == key:
            check.pk = run[0]
            counted.append((check.at, 1, run[0]))
            continue
        if run is not None:
            check.changed = " ".join(
                name for name, a, b in zip(RUN_KEY, run[1], key, strict=True) if a != b
            )
        started.append(check)
        # Marks the site's run as this one (its id is set below, before use).
        current[check.site_id] = (-1, key)
    if started:
        new_ids = insert_rows_returning_ids(
            Check, _CHECK_FIELDS, [[getattr(c, a) for a in _CHECK_ATTNAMES] for c in started]
        )
        for check, pk in zip(started, new_ids, strict=True):
            check.pk = pk
            watches[check.site_id].run_id = pk
    if counted:
        update_rows(Check, ["last_at", "count"], counted, increment=["count"])
    return checks


def _check_row(obs: Observation) -> Check:
    r = obs.result
    return _new_row(
        Check,
        site_id=obs.target.site_id,
        at=obs.at,
        last_at=obs.at,
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


_DEFAULTS: dict[type[Model], dict[str, Any]] = {}


def _new_row(model: type[_M], **values: Any) -> _M:
    """An unsaved instance with ``values``, every other column at its default.

    As ``model(**values)`` makes, without ``__init__``'s walk over the fields
    and its signals, for thousands of Checks a second.
    """
    defaults = _DEFAULTS.get(model)
    if defaults is None:
        defaults = _DEFAULTS[model] = {
            f.attname: None if f.primary_key else f.get_default()
            for f in model._meta.concrete_fields
        }
    obj = model.__new__(model)
    obj.__dict__.update(defaults)
    obj.__dict__.update(values)
    obj._state = ModelState()
    return obj


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


# --- retention -------------------------------------------------------------------------

# Timeline events whose data names the check (the run) that caused them.
CHECK_EVENTS = (
    EventKind.SITE_DOWN,
    EventKind.SITE_REVIVED,
    EventKind.SITE_ALREADY_DOWN,
    EventKind.SITE_UNVERIFIED,
)
COMPACT_SITES = 500


def checks_compact(*, older_than: datetime) -> int:
    """Merge each site's consecutive runs that ended before ``older_than`` and share a verdict.

    The raw detail that set them apart (``RUN_KEY`` fields other than the
    verdict) goes; the first run of each verdict stays as it was observed,
    counting the merged ones' checks and ending at the last one's end.  A run
    that the timeline (``data.check``), an evidence or a Watch names is never
    merged away, so every event keeps pointing at the check that made it.
    Returns how many runs were merged.
    """
    from django.db.models import Count

    candidates = list(
        Check.objects.filter(last_at__lt=older_than)
        .values("site_id")
        .annotate(n=Count("id"))
        .filter(n__gte=2)
        .values_list("site_id", flat=True)
    )
    merged = 0
    for start in range(0, len(candidates), COMPACT_SITES):
        site_ids = candidates[start : start + COMPACT_SITES]
        with transaction.atomic():
            merged += _compact_sites(site_ids, older_than)
    return merged


def _compact_sites(site_ids: list[int], older_than: datetime) -> int:
    kept: set[int] = set(
        Evidence.objects.filter(site_id__in=site_ids, check_ref__isnull=False).values_list(
            "check_ref_id", flat=True
        )
    )
    kept |= set(
        Watch.objects.filter(site_id__in=site_ids, run__isnull=False).values_list(
            "run_id", flat=True
        )
    )
    for data in Event.objects.filter(site_id__in=site_ids, kind__in=CHECK_EVENTS).values_list(
        "data", flat=True
    ):
        if isinstance(data, dict) and isinstance(data.get("check"), int):
            kept.add(data["check"])
    runs = (
        Check.objects.filter(site_id__in=site_ids, last_at__lt=older_than)
        .order_by("site_id", "at", "id")
        .only("id", "site_id", "verdict", "last_at", "count")
    )
    heads: dict[int, Check] = {}
    gone: list[int] = []
    head: Check | None = None
    for run in runs:
        if (
            head is not None
            and head.site_id == run.site_id
            and head.verdict == run.verdict
            and run.pk not in kept
        ):
            head.count += run.count
            head.last_at = run.last_at
            heads[head.pk] = head
            gone.append(run.pk)
            continue
        head = run
    update_rows(
        Check,
        ["count", "last_at"],
        [(h.count, h.last_at, h.pk) for h in heads.values()],
    )
    for start in range(0, len(gone), 500):
        Check.objects.filter(pk__in=gone[start : start + 500]).delete()
    return len(gone)


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
