"""When a notice does not work: follow-ups, the next contact, and the escalation ladder.

A thread is a first notice (its root) and every message that follows it.
The root keeps the thread's next deadline (``Notice.next_deadline``),
written in the same transaction as what makes it due: a message of the
thread leaving (``outbox.notice_mark_sent``: ``NOTICE_RENOTIFY_AFTER``
later), every address of a message bouncing (``services.notice_bounce``:
now), or a first notice that had nobody to go to (``planning``: now).
``notices_process_deadlines`` claims due threads with a conditional UPDATE
and ``notice_deadline_passed`` decides, for the thread's sites still open:

1. The latest message at the thread's rung reached nobody (every address
   bounced, or there was none): at the organisation, re-send to its next
   contact tier if it has one; otherwise climb at once.
2. At the organisation with fewer than ``NOTICE_MAX_FOLLOWUPS`` follow-ups:
   a follow-up in the same thread.
3. Otherwise climb: the next rung of ``models.LADDER`` (registrar, CDN,
   national CSIRT) that has a usable address gets an escalation, with the
   organisation's working addresses in Cc.

When no rung is left the thread stalls (``Notice.stalled``): ``no_contact``
when nobody could be reached, ``still_up`` when the sites are still up
after the last message; ``selectors.handler_items`` shows it to a handler.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from takedown.cases.models import EventKind, Site
from takedown.notices.compose import notice_text, xarf_attachment
from takedown.notices.contacts import recipients_for, rung_recipients
from takedown.notices.mime import Attachment
from takedown.notices.models import (
    LADDER,
    NOTICEABLE,
    ORG_KINDS,
    STILL_UP,
    BadAddress,
    Notice,
    NoticeKind,
    NoticeState,
    Rung,
    Stall,
)
from takedown.notices.outbox import outbox_enqueue
from takedown.notices.planning import compose_org_notice
from takedown.notices.selectors import latest_threads
from takedown.notices.services import notice_create_once, notice_event

log = logging.getLogger(__name__)

# How long a claimed deadline is held: if the worker dies before acting on
# it, another one takes it up after this.
DEADLINE_LEASE = timedelta(minutes=5)


def thread_sites_open(root: Notice) -> list[Site]:
    """Sites of the thread still up (or never told) whose latest notice is this thread."""
    sites = list(root.sites.filter(state__in=STILL_UP | NOTICEABLE).order_by("pk"))
    latest = latest_threads(sites)
    return [site for site in sites if latest.get(site.pk) == root.pk]


def notices_process_deadlines(*, now: datetime | None = None, limit: int = 200) -> int:
    """Act on every thread whose deadline has passed; return how many were acted on."""
    now = now or timezone.now()
    roots = list(
        Notice.objects.filter(
            parent__isnull=True,
            kind__in=[NoticeKind.INITIAL, NoticeKind.REVIVAL],
            next_deadline__lte=now,
        )
        .order_by("next_deadline")
        .values_list("pk", "next_deadline")[:limit]
    )
    done = 0
    for pk, deadline in roots:
        # Claim the deadline by moving it a lease ahead: only one worker acts
        # on it, and if that worker dies the thread is due again later.
        lease = max(now, timezone.now()) + DEADLINE_LEASE
        if not Notice.objects.filter(pk=pk, next_deadline=deadline).update(next_deadline=lease):
            continue
        root = Notice.objects.select_related("organization").get(pk=pk)
        try:
            with transaction.atomic():
                notice_deadline_passed(root)
                # Done: the thread waits for what the action wrote (a message
                # leaving sets the next deadline) unless something else
                # (a bounce meanwhile) already set another.
                Notice.objects.filter(pk=pk, next_deadline=lease).update(next_deadline=None)
            done += 1
        except Exception:
            log.exception("deadline of notice %s could not be processed; retried later", pk)
    return done


def _latest_at_rung(root: Notice) -> Notice | None:
    """The thread's latest message to the party of its current rung."""
    if root.rung == Rung.ORGANIZATION:
        scope = Q(kind__in=ORG_KINDS)
    else:
        scope = Q(kind=NoticeKind.ESCALATION, rung=root.rung)
    return (
        Notice.objects.filter(Q(pk=root.pk) | Q(parent=root), scope)
        .exclude(state=NoticeState.CANCELLED)
        .select_related("organization")
        .order_by("-pk")
        .first()
    )


def _unreachable(message: Notice | None) -> bool:
    """Whether ``message`` reached nobody: it had no address, or every one bounced."""
    if message is None:
        return False
    if message.state == NoticeState.NO_CONTACT:
        return True
    if message.state != NoticeState.BOUNCED or not message.to:
        return False
    org = message.organization if message.kind in ORG_KINDS else None
    return {a.lower() for a in message.to} <= BadAddress.blocked_for(org)


def notice_deadline_passed(root: Notice) -> Notice | None:
    """Decide what a due thread needs (see the module's docstring); the message made, if any."""
    sites = thread_sites_open(root)
    if not sites:
        return None
    latest = _latest_at_rung(root)
    if _unreachable(latest):
        if root.rung == Rung.ORGANIZATION and latest is not None:
            resend = notice_resend_next_contact(root, latest, sites)
            if resend is not None:
                return resend
        return notice_climb(root, sites, reason="unreachable")
    if root.rung == Rung.ORGANIZATION and root.followups < settings.NOTICE_MAX_FOLLOWUPS:
        return notice_followup(root, sites)
    return notice_climb(root, sites, reason="still_up")


def notice_followup(root: Notice, sites: list[Site]) -> Notice | None:
    number = root.followups + 1
    with transaction.atomic():
        followup = notice_create_once(
            sites,
            kind=NoticeKind.FOLLOWUP,
            organization=root.organization,
            parent=root,
            language=root.language,
            idempotency_key=f"followup:{root.pk}:{number}",
        )
        if followup is None:
            return None
        Notice.objects.filter(pk=root.pk).update(followups=number)
        root.followups = number
        compose_org_notice(followup, sites, threaded=True)
    return followup


def notice_resend_next_contact(root: Notice, bounced: Notice, sites: list[Site]) -> Notice | None:
    """Every address of ``bounced`` is bad: send the thread to the organisation's next contact."""
    tier, to = recipients_for(root.organization)
    if not to:
        return None
    key = f"resend:{root.pk}:{','.join(sorted(to))}"[:200]
    with transaction.atomic():
        resend = notice_create_once(
            sites,
            kind=NoticeKind.RESEND,
            organization=root.organization,
            parent=root,
            language=root.language,
            idempotency_key=key,
        )
        if resend is None:
            return None
        compose_org_notice(resend, sites, to=to)
    log.info("notice %s bounced; re-sent as %s to the %s contact", bounced.pk, resend.pk, tier)
    return resend


def notice_climb(root: Notice, sites: list[Site], *, reason: str) -> Notice | None:
    """Escalate to the next rung with a usable address, or stall when none is left.

    ``reason`` is ``unreachable`` (the current rung reached nobody) or
    ``still_up`` (it was told and the sites are still up).
    """
    rungs = LADDER[LADDER.index(Rung(root.rung)) + 1 :] if settings.NOTICE_ESCALATE else []
    for rung in rungs:
        to = rung_recipients(rung, root.organization, sites)
        if to:
            escalation = notice_escalate(root, sites, rung=rung, to=to, reason=reason)
            if escalation is not None:
                return escalation
            # Told once already in this thread (before a handler's re-send): next.
    notice_stall(root, sites, Stall.NO_CONTACT if reason == "unreachable" else Stall.STILL_UP)
    return None


def notice_escalate(
    root: Notice, sites: list[Site], *, rung: str, to: list[str], reason: str
) -> Notice | None:
    """Send the thread to ``rung``'s party, the organisation's working addresses in Cc."""
    with transaction.atomic():
        notice = notice_create_once(
            sites,
            kind=NoticeKind.ESCALATION,
            organization=root.organization,
            parent=root,
            language="en",
            rung=rung,
            idempotency_key=f"escalate:{root.pk}:{rung}",
        )
        if notice is None:
            return None
        Notice.objects.filter(pk=root.pk).update(rung=rung)
        root.rung = rung
        _tier, org_addresses = recipients_for(root.organization)
        cc = [a for a in org_addresses if a not in to]
        subject, body = notice_text(
            notice, sites, extra={"roles": [rung], "escalation_reason": reason}
        )
        attachments = []
        if settings.NOTICE_XARF:
            reports, payload = xarf_attachment(notice, sites)
            if reports:
                attachments.append(Attachment("xarf.json", payload, "application", "json"))
        outbox_enqueue(
            notice,
            subject=subject,
            body=body,
            to=to,
            cc=cc,
            attachments=attachments,
            threaded=True,
        )
    log.info("thread %s escalated to the %s (%s)", root.pk, rung, reason)
    return notice


def notice_stall(root: Notice, sites: list[Site], stall: str) -> None:
    """No rung is left: the thread waits for a handler (``selectors.handler_items``)."""
    now = timezone.now()
    with transaction.atomic():
        if (
            not Notice.objects.filter(pk=root.pk)
            .exclude(stalled=stall)
            .update(stalled=stall, stalled_at=now)
        ):
            return  # stalled for this reason already
        root.stalled, root.stalled_at = stall, now
        if stall == Stall.NO_CONTACT:
            kind = EventKind.NOTICE_NO_CONTACT
            message = "nobody could be reached: every contact bounced or none is known"
        else:
            kind = EventKind.NOTICE_STILL_UP
            message = "still up after the last message; no further contact is known"
        notice_event(root, kind=kind, message=message, data={"rung": root.rung}, sites=sites)
