"""The one write path for sites, incidents and the timeline.

Every change of a site's state goes through ``site_transition`` (or a function
that calls it), which checks the transition, saves the site and appends the
Event in one transaction.  Views, the API, the CLI and the workers all call
these functions; nothing else assigns ``Site.state``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from takedown.cases.models import TRANSITIONS, Event, EventKind, Incident, Site, SiteState
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
    who may move a site anywhere (reopen, reject).
    """
    at = at or timezone.now()
    with transaction.atomic():
        current = Site.objects.select_for_update().only("state").get(pk=site.pk).state
        if not force and to_state not in TRANSITIONS.get(current, set()):
            raise InvalidTransition(f"site {site.pk}: {current} -> {to_state} is not allowed")
        site.state = to_state
        site.state_changed = at
        fields = {"state", "state_changed", *update_fields}
        site.save(update_fields=sorted(fields))
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


def site_reject(site: Site, *, actor: str, reason: str) -> Event:
    return site_transition(
        site,
        SiteState.REJECTED,
        kind=EventKind.SITE_REJECTED,
        message=reason,
        actor=actor,
        force=True,
    )


def site_reopen(site: Site, *, actor: str, reason: str = "") -> Event:
    return site_transition(
        site,
        SiteState.REPORTED,
        kind=EventKind.SITE_REOPENED,
        message=reason,
        actor=actor,
        force=True,
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
    event each.  Used by intake for single reports and for bulk imports alike,
    so a 180,000-row import costs a few queries per batch, not per row.
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
