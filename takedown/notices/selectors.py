"""Reads of notices and inbound mail: what the handlers' queue shows of this step."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Max

from takedown.cases.attention import HandlerItem, Reason
from takedown.cases.models import Event, EventKind, Site
from takedown.intake.models import Reporter
from takedown.notices.models import (
    NOTICEABLE,
    STILL_UP,
    InboundKind,
    InboundMessage,
    Notice,
    NoticeKind,
    NoticeSite,
    NoticeState,
    OutboxMessage,
    OutboxState,
    Stall,
)


def handler_items(now: datetime) -> list[HandlerItem]:
    """Failed or uncertain notices, stalled threads, and inbound mail nobody has handled yet."""
    items: list[HandlerItem] = []
    for notice in Notice.objects.filter(state=NoticeState.FAILED).only("pk", "created", "error"):
        items.append(
            HandlerItem(
                reason=Reason.NOTICE_FAILED,
                since=notice.created,
                notice_id=notice.pk,
                detail=notice.error[:300],
            )
        )
    for row in OutboxMessage.objects.filter(state=OutboxState.UNCERTAIN).only(
        "notice_id", "claimed_at", "created", "last_error"
    ):
        items.append(
            HandlerItem(
                reason=Reason.NOTICE_UNCERTAIN,
                since=row.claimed_at or row.created,
                notice_id=row.notice_id,
                detail=row.last_error[:300],
            )
        )
    items += _stalled_threads()
    reasons = {InboundKind.UNMATCHED: Reason.UNMATCHED_MAIL, InboundKind.ERROR: Reason.MAIL_ERROR}
    for mail in InboundMessage.objects.filter(kind__in=list(reasons), handled_by="").only(
        "pk", "kind", "received", "reason", "notice_id", "report_id"
    ):
        items.append(
            HandlerItem(
                reason=reasons[InboundKind(mail.kind)],
                since=mail.received,
                inbound_id=mail.pk,
                notice_id=mail.notice_id,
                report_id=mail.report_id,
                detail=mail.reason[:300],
            )
        )
    return items


def site_episode(site: Site) -> int:
    """How many times the site came back: a revival is a new decision to notify."""
    return Event.objects.filter(site=site, kind=EventKind.SITE_REVIVED).count()


def reporter_reachable(reporter: Reporter) -> bool:
    """Whether we can write to ``reporter`` (an address, and not one of our own)."""
    email = (reporter.email or "").lower()
    return bool(email) and email not in {settings.NOTICE_FROM.lower(), settings.TEAM_EMAIL.lower()}


def _stalled_threads() -> list[HandlerItem]:
    """Sites whose thread has no rung left: nobody could be reached, or still up after all.

    One item per site still open whose latest notice is the stalled thread, so
    the item goes away by itself when the site goes down, is handled, or a
    newer notice (a revival, a handler's re-send) takes over.
    """
    reasons = {Stall.NO_CONTACT: Reason.NO_CONTACT, Stall.STILL_UP: Reason.STILL_UP}
    roots = {
        n.pk: n
        for n in Notice.objects.filter(parent__isnull=True, stalled__in=list(reasons)).only(
            "pk", "stalled", "stalled_at", "created", "rung", "error"
        )
    }
    if not roots:
        return []
    open_states = list(STILL_UP | NOTICEABLE)
    rows = NoticeSite.objects.filter(notice_id__in=list(roots), site__state__in=open_states)
    latest = latest_threads(rows.values("site_id"))
    items = []
    for notice_id, site_id in rows.values_list("notice_id", "site_id"):
        if latest.get(site_id) != notice_id:
            continue
        root = roots[notice_id]
        detail = (
            "no contact left: every address bounced or none is known"
            if root.stalled == Stall.NO_CONTACT
            else f"still up after the last message (to {root.get_rung_display()})"
        )
        items.append(
            HandlerItem(
                reason=reasons[Stall(root.stalled)],
                since=root.stalled_at or root.created,
                site_id=site_id,
                notice_id=notice_id,
                detail=detail,
            )
        )
    return items


def latest_threads(sites: Any) -> dict[int, int]:
    """For each of ``sites`` (ids, objects or a subquery), the root of its latest notice thread.

    A site's latest first notice (or revival notice) is the thread that
    speaks for it now; older threads (before a revival) are history.  One
    grouped query, however many sites.
    """
    return dict(
        NoticeSite.objects.filter(
            site__in=sites, notice__kind__in=[NoticeKind.INITIAL, NoticeKind.REVIVAL]
        )
        .exclude(notice__state__in=[NoticeState.CANCELLED, NoticeState.COLLECTING])
        .order_by()
        .values("site_id")
        .annotate(latest=Max("notice_id"))
        .values_list("site_id", "latest")
    )
