"""Planning and composing notices to the responsible organisations.

1. ``notice_plan_site``: a site seen up joins its organisation's collecting
   notice (one per organisation, open for ``NOTICE_BATCH_WINDOW`` seconds).
2. ``notices_compose_due``: a collecting notice whose window has passed is
   claimed with a conditional UPDATE, composed (text, X-ARF) and put in the
   outbox with its exact bytes (``outbox.outbox_enqueue``).

Each site enters at most one notice per decision (``NoticeSite.decision_key``:
organisation, site and how many times it revived), so a retried call or a
second worker cannot put it in twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from takedown.cases.models import EventKind, Site, SiteState
from takedown.notices.compose import notice_text, org_language, xarf_attachment
from takedown.notices.contacts import recipients_for
from takedown.notices.mime import Attachment
from takedown.notices.models import (
    NOTICEABLE,
    Notice,
    NoticeKind,
    NoticeSite,
    NoticeState,
    OutboxMessage,
)
from takedown.notices.outbox import outbox_enqueue
from takedown.notices.reporters import closed_compose
from takedown.notices.selectors import site_episode
from takedown.notices.services import notice_event, notice_fail, notice_transition

log = logging.getLogger(__name__)


def notice_plan_site(site_id: int, *, now: datetime | None = None) -> Notice | None:
    """Put a site that was seen up into its organisation's collecting notice.

    Idempotent: a second call for the same site and episode does nothing.
    """
    now = now or timezone.now()
    site = Site.objects.select_related("organization").filter(pk=site_id).first()
    if site is None or site.historical or site.state not in NOTICEABLE:
        return None
    org = site.organization
    # Without a known organisation the thread starts one rung up (the
    # registrar...), one thread per site: there is nobody to batch for.
    decision = f"org{org.pk if org else '-'}:site{site.pk}:notify{site_episode(site)}"
    note = "revived" if site.state == SiteState.REVIVED else ""
    for _attempt in range(3):
        try:
            with transaction.atomic():
                if NoticeSite.objects.filter(decision_key=decision).exists():
                    return None
                notice = (
                    Notice.objects.select_for_update()
                    .filter(organization=org, state=NoticeState.COLLECTING)
                    .exclude(kind__in=[NoticeKind.CLOSED, NoticeKind.ACK])
                    .first()
                    if org is not None
                    else None
                )
                if notice is None:
                    notice = Notice.objects.create(
                        kind=NoticeKind.REVIVAL if note == "revived" else NoticeKind.INITIAL,
                        organization=org,
                        language=org_language(org),
                        idempotency_key=f"collect:{decision}",
                        send_after=now + timedelta(seconds=settings.NOTICE_BATCH_WINDOW),
                    )
                NoticeSite.objects.create(
                    notice=notice, site=site, decision_key=decision, note=note
                )
                return notice
        except IntegrityError:
            # Another worker created the collecting notice (or took this
            # decision) at the same moment: look again.
            continue
    return None


def notices_compose_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """Compose every collecting notice whose batching window has closed."""
    now = now or timezone.now()
    ids = list(
        Notice.objects.filter(state=NoticeState.COLLECTING, send_after__lte=now)
        .order_by("send_after", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for pk in ids:
        try:
            if notice_compose(pk) is not None:
                done += 1
        except Exception as exc:  # one broken notice must not stop the others
            log.exception("notice %s could not be composed", pk)
            notice = Notice.objects.filter(pk=pk).first()
            if notice is not None:
                notice_fail(notice, f"compose: {type(exc).__name__}: {exc}")
    return done


def notice_compose(notice_id: int) -> OutboxMessage | None:
    """Claim a collecting notice whose window has closed and put it in the outbox.

    Sites that went down (or were handled) while the window was open are
    dropped from the notice, not told about; a notice left with no site is
    cancelled.
    """
    notice = Notice.objects.select_related("organization", "reporter").filter(pk=notice_id).first()
    if notice is None or notice.state != NoticeState.COLLECTING:
        return None
    if notice.kind == NoticeKind.CLOSED:
        with transaction.atomic():
            if not notice_transition(notice, NoticeState.QUEUED, kind=EventKind.NOTICE_QUEUED):
                return None
            return closed_compose(notice)
    named = list(notice.sites.order_by("pk"))
    sites = [s for s in named if s.state in NOTICEABLE]
    dropped = [s for s in named if s.state not in NOTICEABLE]
    with transaction.atomic():
        if not sites:
            notice_transition(
                notice,
                NoticeState.CANCELLED,
                kind=EventKind.NOTICE_CANCELLED,
                message="no site still needs this notice",
                fields={"error": "no site still needs this notice"},
            )
            return None
        # The claim: only one worker moves it out of "collecting".
        if not notice_transition(
            notice, NoticeState.QUEUED, kind=EventKind.NOTICE_QUEUED, sites=sites
        ):
            return None
        if dropped:
            notice_event(
                notice,
                kind=EventKind.NOTICE_CANCELLED,
                message="not named in the notice: the site was no longer up when it was composed",
                sites=dropped,
            )
            NoticeSite.objects.filter(notice=notice, site__in=dropped).delete()
        if any(s.state == SiteState.LOCATED for s in sites) and notice.kind == NoticeKind.REVIVAL:
            notice.kind = NoticeKind.INITIAL
            notice.save(update_fields=["kind"])
        return compose_org_notice(notice, sites)


def compose_org_notice(
    notice: Notice, sites: list[Site], *, to: list[str] | None = None, threaded: bool = False
) -> OutboxMessage | None:
    """Text, X-ARF and outbox row of a message to the organisation (first, follow-up, re-send)."""
    org = notice.organization
    if to is None:
        _tier, to = recipients_for(org)
    if not to:
        # Nobody at the organisation to write to: the thread is due now, and
        # the escalation step climbs to the next rung (escalation.py).
        reason = (
            f"no usable address for {org}: every known contact bounced or none is recorded"
            if org is not None
            else "no responsible organisation is known for the site"
        )
        notice_transition(
            notice,
            NoticeState.NO_CONTACT,
            kind=EventKind.NOTICE_NO_CONTACT,
            message=reason,
            fields={"error": reason},
            sites=sites,
        )
        Notice.objects.filter(pk=notice.root.pk).update(next_deadline=timezone.now())
        return None
    subject, body = notice_text(notice, sites)
    attachments = []
    if settings.NOTICE_XARF:
        reports, payload = xarf_attachment(notice, sites)
        if reports:
            notice.xarf = reports
            notice.save(update_fields=["xarf"])
            attachments.append(Attachment("xarf.json", payload, "application", "json"))
    return outbox_enqueue(
        notice, subject=subject, body=body, to=to, attachments=attachments, threaded=threaded
    )
