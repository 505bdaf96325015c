"""The one write path for notices and inbound mail, and the handlers' actions.

Every change of a notice's state goes through ``notice_transition`` and every
change of an inbound message's kind through ``inbound_transition``: each
checks the change against its table (``NOTICE_TRANSITIONS``,
``INBOUND_TRANSITIONS`` in ``models.py``), applies it with a conditional
UPDATE (so two workers cannot both apply it) and writes the timeline event
in the same transaction.  Nothing else assigns ``Notice.state`` or
``InboundMessage.kind``.

The step itself is split by concern (docs/notices.md, "Where the code is"):
``planning.py``, ``outbox.py``, ``escalation.py``, ``reporters.py``,
``inbound.py``, ``tick.py``.  This module holds, besides the two
transitions, what several of them write: a bounce, a notice created once per
decision, the reporters' closure message planned; and the actions a handler
takes on notices, mail and addresses.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from takedown.cases.models import Event, EventKind, Site, SiteState
from takedown.cases.services import event_record, site_try_transition
from takedown.intake.models import Reporter
from takedown.notices.models import (
    INBOUND_TRANSITIONS,
    NOTICE_TRANSITIONS,
    ORG_KINDS,
    STILL_UP,
    BadAddress,
    CountryCSIRT,
    InboundMessage,
    Notice,
    NoticeKind,
    NoticeSite,
    NoticeState,
    OutboxMessage,
    OutboxState,
)
from takedown.notices.selectors import reporter_reachable, site_episode

log = logging.getLogger(__name__)

_UNSET: Any = object()


# --- notices ------------------------------------------------------------------------


def _sources(table: dict[str, set[str]], to_state: str) -> list[str]:
    return [state for state, targets in table.items() if to_state in targets]


def notice_transition(
    notice: Notice,
    to_state: str,
    *,
    kind: EventKind,
    message: str = "",
    data: dict[str, Any] | None = None,
    actor: str = "system",
    at: datetime | None = None,
    fields: dict[str, Any] | None = None,
    sites: Iterable[Site] | None = None,
    site_state: str | None = None,
) -> bool:
    """Move ``notice`` to ``to_state`` and record ``kind``; False when the move is not allowed now.

    ``fields`` are other Notice fields saved with the state.  The event goes
    on the timeline of each site the notice names (or ``sites``), see
    ``notice_event``; with ``site_state`` each of those sites moves there too
    and the event is its transition.  A notice another worker moved first is
    left alone (False), as ``site_try_transition`` does for sites.
    """
    at = at or timezone.now()
    values = {"state": to_state, **(fields or {})}
    with transaction.atomic():
        moved = Notice.objects.filter(
            pk=notice.pk, state__in=_sources(NOTICE_TRANSITIONS, to_state)
        ).update(**values)
        if not moved:
            log.info("notice %s: -> %s is not allowed now", notice.pk, to_state)
            return False
        for name, value in values.items():
            setattr(notice, name, value)
        notice_event(
            notice,
            kind=kind,
            message=message,
            data=data,
            actor=actor,
            at=at,
            sites=sites,
            site_state=site_state,
        )
    return True


def notice_event(
    notice: Notice,
    *,
    kind: EventKind,
    message: str = "",
    data: dict[str, Any] | None = None,
    actor: str = "system",
    at: datetime | None = None,
    sites: Iterable[Site] | None = None,
    site_state: str | None = None,
) -> None:
    """Record ``kind`` about ``notice`` on the timeline.

    One event per site the notice names (or ``sites``), so each site's
    history reads like the seed's case tables; an acknowledgement is recorded
    on its report instead, and a notice with no site at all on its
    organisation.  ``data`` gets ``{"notice": notice.pk}`` unless it names
    another notice.
    """
    at = at or timezone.now()
    payload = {"notice": notice.pk, **(data or {})}
    organization = (
        None if notice.kind in {NoticeKind.ACK, NoticeKind.CLOSED} else notice.organization
    )
    site_list = list(notice.sites.order_by("pk") if sites is None else sites)
    if notice.kind == NoticeKind.ACK or not site_list:
        event_record(
            kind=kind,
            report=notice.report,
            organization=organization,
            message=message[:2000],
            data=payload,
            actor=actor,
            at=at,
        )
        return
    plain = site_list
    if site_state is not None:
        plain = []
        for site in site_list:
            moved = site_try_transition(
                site,
                site_state,
                kind=kind,
                organization=organization,
                message=message[:2000],
                data=payload,
                actor=actor,
                at=at,
            )
            if moved is None:
                # Down, closed or handled meanwhile: the event without the move.
                plain.append(site)
    Event.objects.bulk_create(
        [
            Event(
                kind=kind,
                site=site,
                organization=organization,
                message=message[:2000],
                data=payload,
                actor=actor,
                at=at,
            )
            for site in plain
        ]
    )


def notice_create_once(sites: list[Site], **fields: Any) -> Notice | None:
    """A queued notice for ``sites``, or None when its idempotency key was already used.

    The savepoint lets a retried task or a second worker lose the race on the
    unique key without spoiling the caller's transaction.
    """
    parent = fields.get("parent")
    if parent is not None:
        fields.setdefault("token_tag", parent.token_tag)  # one token for the whole thread
    try:
        with transaction.atomic():
            notice = Notice.objects.create(state=NoticeState.QUEUED, **fields)
    except IntegrityError:
        return None
    NoticeSite.objects.bulk_create([NoticeSite(notice=notice, site=site) for site in sites])
    return notice


def notice_fail(
    notice: Notice,
    reason: str,
    *,
    kind: EventKind = EventKind.NOTICE_FAILED,
    sites: Iterable[Site] | None = None,
) -> bool:
    """The notice could not go out (the mail server refused it, composing failed)."""
    return notice_transition(
        notice,
        NoticeState.FAILED,
        kind=kind,
        message=reason,
        fields={"error": reason[:2000]},
        sites=sites,
    )


def notice_bounce(
    notice: Notice,
    addresses: list[str],
    *,
    permanent: bool,
    inbound: InboundMessage | None,
    reason: str,
) -> list[str]:
    """Record that ``addresses`` of ``notice`` bounced; return those that were its recipients.

    A permanent bounce marks the addresses bad (for the organisation; an
    escalation's registrar, CDN or CSIRT address everywhere).  When every
    address a message was for is bad, the thread's deadline is set to now:
    the escalation step (``escalation.notice_deadline_passed``) then sends it
    to the next contact or rung, from the database state, whoever runs it and
    even after a crash here.
    """
    recipients = [a.lower() for a in notice.recipients]
    hit = [a for a in addresses if a in recipients]
    if not hit and permanent and len(recipients) == 1 and not addresses:
        # The bounce names no address but belongs to a one-recipient notice.
        hit = recipients
    org = notice.organization if notice.kind in ORG_KINDS else None
    kind = (
        EventKind.NOTICE_BOUNCED
        if notice.kind not in {NoticeKind.ACK, NoticeKind.CLOSED}
        else (EventKind.REPORTER_BOUNCED)
    )
    data = {
        "addresses": hit or addresses,
        "permanent": permanent,
        "inbound": inbound.pk if inbound else None,
    }
    with transaction.atomic():
        if permanent:
            for addr in hit:
                bad, created = BadAddress.objects.get_or_create(
                    organization=org,
                    address=addr,
                    defaults={"reason": reason[:2000], "inbound": inbound},
                )
                if not created and bad.allowed_at is not None:
                    # Allowed again by a handler and bounced again: block it again.
                    BadAddress.objects.filter(pk=bad.pk).update(
                        allowed_at=None, allowed_by="", reason=reason[:2000], inbound=inbound
                    )
        if not notice_transition(
            notice, NoticeState.BOUNCED, kind=kind, message=reason[:500], data=data
        ):
            # Bounced before, replied or closed: the bounce is still part of its history.
            notice_event(notice, kind=kind, message=reason[:500], data=data)
        to = {a.lower() for a in notice.to}
        if (
            permanent
            and (notice.kind in ORG_KINDS or notice.kind == NoticeKind.ESCALATION)
            and to
            and to <= BadAddress.blocked_for(org)
        ):
            Notice.objects.filter(pk=notice.root.pk).update(next_deadline=timezone.now())
    return hit


# --- reporters' closure messages ------------------------------------------------------


def closure_plan(site: Site, *, now: datetime | None = None) -> int:
    """Put a closed site into the closure message of each reporter who wants one.

    One message per reporter collects sites for ``NOTICE_BATCH_WINDOW`` (a
    bulk report closing together gives one message).  Each (reporter, site,
    revival count) is one decision with a unique key, so calling this again
    plans nothing twice.  Returns how many reporters the site was added for.
    """
    now = now or timezone.now()
    episode = site_episode(site)
    planned = 0
    reporters = (
        Reporter.objects.filter(reports__sites=site, notify_closed=True).distinct().order_by("pk")
    )
    for reporter in reporters:
        if not reporter_reachable(reporter):
            continue
        decision = f"closed:reporter{reporter.pk}:site{site.pk}:{episode}"
        for _attempt in range(3):
            try:
                with transaction.atomic():
                    if NoticeSite.objects.filter(decision_key=decision).exists():
                        break
                    notice = (
                        Notice.objects.select_for_update()
                        .filter(
                            reporter=reporter, kind=NoticeKind.CLOSED, state=NoticeState.COLLECTING
                        )
                        .first()
                    )
                    if notice is None:
                        notice = Notice.objects.create(
                            kind=NoticeKind.CLOSED,
                            reporter=reporter,
                            language=reporter.language,
                            idempotency_key=f"collect:{decision}",
                            send_after=now + timedelta(seconds=settings.NOTICE_BATCH_WINDOW),
                        )
                    NoticeSite.objects.create(notice=notice, site=site, decision_key=decision)
                    planned += 1
                break
            except IntegrityError:
                # Another worker opened the reporter's message at the same moment.
                continue
    return planned


def closure_withdraw_if_reopened(notice: Notice, row: OutboxMessage) -> bool:
    """Just before a closure message leaves: is every site in it still closed?

    A site seen up again since (revived, reopened) must not be reported
    closed: the message is cancelled unsent (its bytes name that site), the
    site's timeline says so, and the sites still closed are planned into a
    new message to the reporter.  Returns True when the message was
    withdrawn.
    """
    sites = list(notice.sites.order_by("pk"))
    reopened = [s for s in sites if s.state != SiteState.CLOSED]
    if not reopened:
        return False
    still_closed = [s for s in sites if s.state == SiteState.CLOSED]
    with transaction.atomic():
        OutboxMessage.objects.filter(pk=row.pk).update(
            state=OutboxState.CANCELLED,
            last_error="withdrawn before sending: a site in it is no longer closed",
        )
        notice_transition(
            notice,
            NoticeState.CANCELLED,
            kind=EventKind.REPORTER_CLOSED_WITHDRAWN,
            message="the site was seen up again before the closure message left",
            fields={"error": "a site in it is no longer closed"},
            sites=reopened,
        )
        NoticeSite.objects.filter(notice=notice, site__in=still_closed).delete()
        for site in still_closed:
            closure_plan(site)
    log.info("closure message %s withdrawn: %s no longer closed", notice.pk, reopened)
    return True


# --- inbound mail ---------------------------------------------------------------------


def inbound_transition(
    inbound: InboundMessage,
    to_kind: str,
    *,
    reason: str,
    kind: EventKind = EventKind.INBOUND_ROUTED,
    actor: str = "system",
    notice: Notice | None = _UNSET,
    report: Any = _UNSET,
    fields: dict[str, Any] | None = None,
    sites: Iterable[Site] | None = None,
    expect: str | None = None,
) -> bool:
    """Give ``inbound`` its kind (reply, bounce, report...) and record it; False when not allowed.

    ``notice`` and ``report`` link the message (left as they are when not
    given); ``fields`` are other InboundMessage fields saved with it.  The
    event is one, about the message; with ``sites`` (a handler linking it to a
    thread) one on each of those sites' timelines instead.  ``expect``: apply
    only from that kind (automatic sorting applies only to ``pending`` mail).
    """
    values: dict[str, Any] = {
        "kind": to_kind,
        "reason": reason[:2000],
        "processed": timezone.now(),
        **(fields or {}),
    }
    if notice is not _UNSET:
        values["notice"] = notice
    if report is not _UNSET:
        values["report"] = report
    with transaction.atomic():
        sources = _sources(INBOUND_TRANSITIONS, to_kind)
        if expect is not None:
            sources = [k for k in sources if k == expect]
        moved = InboundMessage.objects.filter(pk=inbound.pk, kind__in=sources).update(**values)
        if not moved:
            log.info("inbound %s: -> %s is not allowed now", inbound.pk, to_kind)
            return False
        for name, value in values.items():
            setattr(inbound, name, value)
        linked = inbound.notice
        organization = linked.organization if linked is not None else None
        data = {
            "inbound": inbound.pk,
            "kind": to_kind,
            "notice": linked.pk if linked is not None else None,
        }
        site_list = list(sites or [])
        if not site_list:
            event_record(
                kind=kind,
                report=inbound.report,
                organization=organization,
                actor=actor,
                message=reason[:500],
                data=data,
            )
        Event.objects.bulk_create(
            [
                Event(
                    kind=kind,
                    site=site,
                    report=inbound.report,
                    organization=organization,
                    actor=actor,
                    message=reason[:500],
                    data=data,
                )
                for site in site_list
            ]
        )
    return True


# --- handler actions ----------------------------------------------------------------


def notice_close_per_admin(
    notice: Notice, *, actor: str, inbound: InboundMessage | None = None
) -> None:
    """The administrator says the site is gone: note it and check the site now.

    The site itself becomes DOWN only when the monitor confirms it, as in the
    seed ("admin says closed -> URL confirmed inaccessible").
    """
    root = notice.root
    now = timezone.now()
    data = {"notice": root.pk, "inbound": inbound.pk if inbound else None}
    with transaction.atomic():
        for target in dict.fromkeys([root, notice]):
            notice_transition(
                target,
                NoticeState.CLOSED,
                kind=EventKind.NOTICE_CLOSED_PER_ADMIN,
                actor=actor,
                data=data,
                # The thread's sites get the event once, from the root.
                sites=None if target is root else [],
            )
        root.sites.filter(state__in=STILL_UP).update(next_check=now)
        if inbound is not None:
            InboundMessage.objects.filter(pk=inbound.pk).update(handled_by=actor[:150])


def country_csirt_set(
    *,
    country: str,
    actor: str,
    enabled: bool | None = None,
    email: str | None = None,
    name: str | None = None,
    language: str | None = None,
) -> CountryCSIRT:
    """Edit (or add) the national CSIRT an escalation goes to for ``country``.

    Shipped rows are disabled: an operator checks the address on the team's
    own sources, then enables it here (or in the admin).  A row is enabled
    only with an address.
    """
    country = country.upper()
    with transaction.atomic():
        row, _created = CountryCSIRT.objects.select_for_update().get_or_create(
            country=country, defaults={"name": name or country}
        )
        changes: dict[str, Any] = {}
        for field, value in (
            ("email", email),
            ("name", name),
            ("language", language),
            ("enabled", enabled),
        ):
            if value is not None and getattr(row, field) != value:
                changes[field] = value
                setattr(row, field, value)
        if row.enabled and not row.email:
            raise ValueError(f"{country}: a CSIRT is enabled only with an address")
        if changes:
            row.save()
            event_record(
                kind=EventKind.CSIRT_EDITED,
                actor=actor,
                message=f"{country}: {row.name}",
                data={"country": country, "changes": changes},
            )
    return row


def bad_address_allow(bad: BadAddress, *, actor: str) -> None:
    BadAddress.objects.filter(pk=bad.pk).update(allowed_at=timezone.now(), allowed_by=actor[:150])
    event_record(
        kind=EventKind.NOTICE_ADDRESS_ALLOWED,
        organization=bad.organization,
        actor=actor,
        message=f"{bad.address} may be used again",
        data={"address": bad.address},
    )
