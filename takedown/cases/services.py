"""The one write path for sites, incidents and the timeline.

Every change of a site's state goes through ``site_transition`` (or a function
that calls it), which checks the transition, saves the site, appends the Event
and writes the work the new state calls for (``STEP_ON_ENTRY``, claimed by
``takedown.loop``) in one transaction.  Views, the API, the CLI and the
workers all call these functions; nothing else assigns ``Site.state``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from takedown.cases.models import (
    DOWN_STATES,
    OPEN_STATES,
    STEP_ON_ENTRY,
    TRANSITIONS,
    Event,
    EventKind,
    Incident,
    Site,
    SiteState,
    Step,
)
from takedown.cases.selectors import site_review_pending
from takedown.cases.work import work_schedule
from takedown.lib.bulk import insert_rows

log = logging.getLogger(__name__)


class InvalidTransition(Exception):
    pass


def event_record(
    *,
    kind: EventKind,
    site: Site | None = None,
    incident: Incident | None = None,
    report: Any = None,
    organization: Any = None,
    message: str = "",
    data: dict[str, Any] | None = None,
    actor: str = "system",
    at: datetime | None = None,
) -> Event:
    """Append a timeline event that does not change a site's state."""
    return Event.objects.create(
        kind=kind,
        site=site,
        incident=incident,
        report=report,
        organization=organization,
        message=message,
        data=data or {},
        actor=actor,
        at=at or timezone.now(),
    )


def site_transition(
    site: Site,
    to_state: str,
    *,
    kind: EventKind = EventKind.SITE_STATE,
    message: str = "",
    data: dict[str, Any] | None = None,
    actor: str = "system",
    organization: Any = None,
    at: datetime | None = None,
    force: bool = False,
    update_fields: Sequence[str] = (),
) -> Event:
    """Move ``site`` to ``to_state`` and record it on the timeline.

    The row is re-read under a lock so two workers that observe the same site
    at once cannot both apply a transition from the same old state.
    ``update_fields`` names other Site fields the caller changed on ``site``
    that must be saved in the same transaction.  ``force`` is for handlers,
    who may move a site anywhere (reopen, reject).  The step the new state
    calls for (``STEP_ON_ENTRY``: locate, first check, notice, closing) is
    made due in the same transaction, so it cannot be lost.
    """
    at = at or timezone.now()
    with transaction.atomic():
        row = Site.objects.select_for_update().only("state", "historical").get(pk=site.pk)
        current = row.state
        if not force and to_state not in TRANSITIONS.get(current, set()):
            raise InvalidTransition(f"site {site.pk}: {current} -> {to_state} is not allowed")
        site.state = to_state
        site.state_changed = at
        fields = {"state", "state_changed", *update_fields}
        site.save(update_fields=sorted(fields))
        step = STEP_ON_ENTRY.get(to_state)
        if step is not None and not row.historical:
            work_schedule(step=step, ids=[site.pk])
        return Event.objects.create(
            kind=kind,
            site=site,
            organization=organization,
            from_state=current,
            to_state=to_state,
            message=message,
            data=data or {},
            actor=actor,
            at=at,
        )


def site_try_transition(site: Site, to_state: str, **kwargs: Any) -> Event | None:
    """Like ``site_transition`` but returns None when the move is not allowed now.

    Workers use this: a site that a handler rejected meanwhile, or that another
    worker already moved, is simply left alone.
    """
    try:
        return site_transition(site, to_state, **kwargs)
    except InvalidTransition as exc:
        log.info("%s", exc)
        return None


class ActionError(ValueError):
    """A handler's action cannot be applied; the message says why (shown to the handler).

    The message is in the language active when it is raised: the handler's
    on a page or an API call, the default one (``LANGUAGE_CODE``) elsewhere.
    """


# Sites whose checks the monitor runs: "re-check now" makes their next check due.
_MONITORED = (OPEN_STATES - {SiteState.REPORTED}) | DOWN_STATES


def _live(site: Site) -> None:
    if site.historical:
        raise ActionError(
            _("site %(site)s is imported history: it cannot be acted on") % {"site": site.pk}
        )


def site_recheck(*, site: Site, actor: str) -> Event:
    """Look at the site again now.

    A located site (or one down, closed, watched) gets its next check due
    at once; the monitor claims it within a second.  A site not located yet,
    or unresolvable, is located again.  A rejected site must be reopened first.
    """
    _live(site)
    site.refresh_from_db(fields=["state"])
    if site.state == SiteState.REJECTED:
        raise ActionError(_("site %(site)s is rejected: reopen it first") % {"site": site.pk})
    with transaction.atomic():
        if site.state in _MONITORED:
            Site.objects.filter(pk=site.pk).update(next_check=timezone.now())
            return event_record(
                kind=EventKind.SITE_RECHECK, site=site, actor=actor, data={"step": "check"}
            )
        if site.state == SiteState.UNRESOLVABLE:
            event = site_transition(
                site,
                SiteState.REPORTED,
                kind=EventKind.SITE_RECHECK,
                actor=actor,
                data={"step": "locate"},
            )
        else:
            event = event_record(
                kind=EventKind.SITE_RECHECK, site=site, actor=actor, data={"step": "locate"}
            )
            # Still reported: its locate step is due now (earlier if it was retrying).
            work_schedule(step=Step.LOCATE, ids=[site.pk])
    return event


def site_reject(*, site: Site, actor: str, reason: str) -> Event:
    """Not malicious (a false positive): out of the loop; the reason is kept."""
    reason = reason.strip()
    if not reason:
        raise ActionError(_("say why the site is rejected"))
    _live(site)
    site.refresh_from_db(fields=["state"])
    if site.state == SiteState.REJECTED:
        raise ActionError(_("site %(site)s is already rejected") % {"site": site.pk})
    return site_transition(
        site,
        SiteState.REJECTED,
        kind=EventKind.SITE_REJECTED,
        message=reason[:2000],
        actor=actor,
        force=True,
    )


def site_reopen(*, site: Site, actor: str, reason: str = "") -> Event:
    """Back to the start of the loop: the site is located (its step comes with the state)."""
    _live(site)
    with transaction.atomic():
        event = site_transition(
            site,
            SiteState.REPORTED,
            kind=EventKind.SITE_REOPENED,
            message=reason.strip()[:2000],
            actor=actor,
            force=True,
        )
    return event


def site_assign(*, site: Site, assignee: Any, actor: str) -> Event:
    """Give the site to a handler (``assignee`` a user, or None to release it)."""
    with transaction.atomic():
        previous = Site.objects.select_for_update().only("assignee").get(pk=site.pk).assignee
        if previous == assignee:
            raise ActionError(
                _("site %(site)s is already assigned to %(user)s")
                % {"site": site.pk, "user": assignee.get_username()}
                if assignee is not None
                else _("site %(site)s is not assigned") % {"site": site.pk}
            )
        site.assignee = assignee
        site.save(update_fields=["assignee"])
        return event_record(
            kind=EventKind.SITE_ASSIGNED,
            site=site,
            actor=actor,
            data={
                "to": assignee.get_username() if assignee is not None else "",
                "from": previous.get_username() if previous is not None else "",
            },
        )


def site_note_add(*, site: Site, actor: str, text: str) -> Event:
    """A handler's note on the site's timeline."""
    text = text.strip()
    if not text:
        raise ActionError(_("a note needs some text"))
    return event_record(kind=EventKind.SITE_NOTE, site=site, actor=actor, message=text[:10_000])


def site_mark_reviewed(*, site: Site, actor: str, note: str = "") -> Event:
    """A handler looked at the site's revival or recurrence: it leaves the queue.

    Nothing else changes: a revived site is already being notified again,
    and a recurrence goes through the loop like any site.  Refused when there
    is nothing left to review (someone else just did it).
    """
    _live(site)
    with transaction.atomic():
        # One review per revival, however many handlers click at once.
        Site.objects.select_for_update().only("pk").get(pk=site.pk)
        pending = site_review_pending(site=site)
        if pending is None:
            raise ActionError(
                _("site %(site)s has no revival or recurrence to review") % {"site": site.pk}
            )
        return event_record(
            kind=EventKind.SITE_REVIEWED,
            site=site,
            actor=actor,
            message=note.strip()[:2000],
            data={"event": pending.pk, "kind": pending.kind},
        )


class SitesByUrl(dict[str, Site]):
    """Sites by URL; ``new`` names the URLs whose sites were created just now."""

    new: set[str]

    def __init__(self, sites: dict[str, Site], new: set[str]) -> None:
        super().__init__(sites)
        self.new = new


def sites_create_bulk(
    rows: Iterable[dict[str, Any]], *, actor: str = "system", historical: bool = False
) -> SitesByUrl:
    """Create the sites named in ``rows`` that do not exist yet; return all by URL.

    Each row has ``url``, ``host``, ``registered_domain`` and optionally
    ``kind``, ``brand``, ``first_reported``.  New sites get a ``site.reported``
    event each and, unless ``historical``, their locate step (``Work``).  Used
    by intake for single reports and for bulk imports alike, so a 180,000-row
    import costs a few queries per batch, not per row.
    """
    by_url: dict[str, dict[str, Any]] = {}
    for row in rows:
        by_url.setdefault(row["url"], row)
    if not by_url:
        return SitesByUrl({}, set())
    existing = {s.url: s for s in Site.objects.filter(url__in=list(by_url))}
    now = timezone.now()
    new_rows = [(url, row) for url, row in by_url.items() if url not in existing]
    if new_rows:
        with transaction.atomic():
            insert_rows(
                Site,
                [
                    "url",
                    "host",
                    "registered_domain",
                    "kind",
                    "brand",
                    "state",
                    "first_reported",
                    "state_changed",
                    "created",
                    "historical",
                ],
                [
                    (
                        url,
                        row["host"],
                        row["registered_domain"],
                        row.get("kind") or "phishing",
                        row.get("brand", "")[:200],
                        SiteState.REPORTED,
                        row.get("first_reported") or now,
                        row.get("first_reported") or now,
                        now,
                        historical,
                    )
                    for url, row in new_rows
                ],
            )
            created = {s.url: s for s in Site.objects.filter(url__in=[url for url, _ in new_rows])}
            insert_rows(
                Event,
                ["kind", "site", "to_state", "actor", "at", "data", "from_state", "message"],
                [
                    (
                        EventKind.SITE_REPORTED,
                        created[url].pk,
                        SiteState.REPORTED,
                        actor,
                        created[url].first_reported,
                        {"url": url, **({"report": row["report"]} if row.get("report") else {})},
                        "",
                        "",
                    )
                    for url, row in new_rows
                ],
            )
            if not historical:
                work_schedule(step=Step.LOCATE, ids=[s.pk for s in created.values()], new=True)
        existing.update(created)
    return SitesByUrl(existing, {url for url, _ in new_rows})


def incident_create(*, title: str, sites: Iterable[Site], actor: str = "system") -> Incident:
    with transaction.atomic():
        incident = Incident.objects.create(title=title[:200])
        site_list = list(sites)
        incident.sites.add(*site_list)
        event_record(
            kind=EventKind.INCIDENT_CREATED,
            incident=incident,
            actor=actor,
            message=title,
            data={"sites": [s.pk for s in site_list]},
        )
    return incident


def _open_incident(incident: Incident) -> None:
    if incident.merged_into_id is not None:
        raise ActionError(
            _("incident %(incident)s was merged into incident %(into)s")
            % {"incident": incident.pk, "into": incident.merged_into_id}
        )


def incident_add_sites(*, incident: Incident, sites: Iterable[Site], actor: str) -> Event:
    """Put sites in an incident (they stay in any other incident they are in)."""
    _open_incident(incident)
    site_list = list(sites)
    if not site_list:
        raise ActionError(_("no site to add"))
    with transaction.atomic():
        already = set(
            incident.sites.filter(pk__in=[s.pk for s in site_list]).values_list("pk", flat=True)
        )
        added = [s for s in site_list if s.pk not in already]
        if not added:
            raise ActionError(
                _("every site is already in incident %(incident)s") % {"incident": incident.pk}
            )
        incident.sites.add(*added)
        for site in added:
            event_record(
                kind=EventKind.INCIDENT_SITE_ADDED,
                site=site,
                incident=incident,
                actor=actor,
                message=incident.title,
                data={"incident": incident.pk},
            )
        return event_record(
            kind=EventKind.INCIDENT_SITES_ADDED,
            incident=incident,
            actor=actor,
            data={"sites": [s.pk for s in added]},
        )


def incident_merge(*, source: Incident, target: Incident, actor: str) -> Event:
    """Merge ``source`` into ``target``: its sites move over, ``source`` points at ``target``."""
    if source.pk == target.pk:
        raise ActionError(_("an incident cannot be merged into itself"))
    _open_incident(source)
    _open_incident(target)
    with transaction.atomic():
        moved = list(source.sites.exclude(pk__in=target.sites.values("pk")))
        target.sites.add(*moved)
        source.merged_into = target
        source.save(update_fields=["merged_into"])
        event_record(
            kind=EventKind.INCIDENT_MERGED,
            incident=source,
            actor=actor,
            message=target.title,
            data={"into": target.pk, "sites": [s.pk for s in moved]},
        )
        return event_record(
            kind=EventKind.INCIDENT_MERGED_IN,
            incident=target,
            actor=actor,
            message=source.title,
            data={"from": source.pk, "sites": [s.pk for s in moved]},
        )
