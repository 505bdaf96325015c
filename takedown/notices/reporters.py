"""Messages to reporters: the acknowledgement of a report, and "your site is closed".

- ``reporter_ack``: when a report is stored (not for imports and feeds), its
  reporter gets the report's token (``TKD-R<n>``) and the URLs found.
- ``site_close``: a confirmed takedown closes the site and plans the
  closure message for each reporter who wants it; messages to one reporter
  are batched for ``NOTICE_BATCH_WINDOW`` (``closed_compose`` writes them).

Both are idempotent (unique decision keys), so the loop may call them again
after a crash.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from takedown.cases.models import Event, EventKind, Site, SiteState
from takedown.cases.services import site_try_transition
from takedown.intake.models import Channel, Report
from takedown.lib.defang import defang
from takedown.lib.failpoints import failpoint
from takedown.notices.compose import reporter_text
from takedown.notices.models import Notice, NoticeKind, NoticeSite, NoticeState, OutboxMessage
from takedown.notices.outbox import outbox_enqueue
from takedown.notices.selectors import reporter_reachable
from takedown.notices.services import (
    closure_plan,
    notice_create_once,
    notice_event,
    notice_transition,
)


def reporter_ack(report_id: int) -> Notice | None:
    """Acknowledge a report to its reporter, with the report's token."""
    report = Report.objects.select_related("reporter").filter(pk=report_id).first()
    if (
        report is None
        or report.reporter is None
        or report.channel in {Channel.IMPORT, Channel.FEED}
    ):
        return None
    reporter = report.reporter
    if not reporter.notify_ack or not reporter_reachable(reporter):
        return None
    with transaction.atomic():
        sites = list(report.sites.order_by("pk"))
        notice = notice_create_once(
            sites,
            kind=NoticeKind.ACK,
            reporter=reporter,
            report=report,
            language=reporter.language,
            idempotency_key=f"ack:report{report.pk}",
        )
        if notice is None:
            return None
        subject, body = reporter_text(
            notice,
            "ack",
            {
                "received": timezone.localtime(report.received).strftime("%Y-%m-%d %H:%M %Z"),
                "sites": [{"url": defang(s.url)} for s in sites],
            },
        )
        outbox_enqueue(notice, subject=subject, body=body, to=[reporter.email.lower()])
    return notice


def site_close(site_id: int, *, now: datetime | None = None) -> None:
    """A site is confirmed down: close it and plan the reporters' closure message.

    The site reaches CLOSED whether or not a reporter is to be told (no
    reporter, no address, or they switched the message off).  A site that
    is no longer down (seen up again since the takedown was confirmed) is
    left alone: only a closed site is reported closed.  Idempotent: called
    again, it plans nothing twice.
    """
    site = Site.objects.filter(pk=site_id).first()
    if site is None or site.state not in {SiteState.DOWN, SiteState.CLOSED}:
        return
    with transaction.atomic():
        if (
            site.state == SiteState.DOWN
            and site_try_transition(site, SiteState.CLOSED, kind=EventKind.SITE_CLOSED) is None
        ):
            return  # revived (or handled) meanwhile
        closure_plan(site, now=now)
        # Both writes are in, neither committed: a process killed here loses
        # them together, and the close step's row, due again when its lease
        # runs out, closes the site and plans the message once.
        failpoint("close.planned")


def closed_compose(notice: Notice) -> OutboxMessage | None:
    """Write a claimed closure message (``planning.notice_compose`` hands it here)."""
    reporter = notice.reporter
    named = list(notice.sites.order_by("pk"))
    if reporter is None or not reporter_reachable(reporter) or not reporter.notify_closed:
        notice_transition(
            notice,
            NoticeState.CANCELLED,
            kind=EventKind.NOTICE_CANCELLED,
            message="the reporter has no address we may write to, or asked not to be told",
        )
        return None
    # Only a site that is closed now is reported closed: one seen up again
    # since it was planned is withdrawn from the message.
    sites = [s for s in named if s.state == SiteState.CLOSED]
    reopened = [s for s in named if s.state != SiteState.CLOSED]
    if not sites:
        notice_transition(
            notice,
            NoticeState.CANCELLED,
            kind=EventKind.REPORTER_CLOSED_WITHDRAWN,
            message="the site was seen up again before the closure message was written",
        )
        return None
    if reopened:
        notice_event(
            notice,
            kind=EventKind.REPORTER_CLOSED_WITHDRAWN,
            message="the site was seen up again before the closure message was written",
            sites=reopened,
        )
        NoticeSite.objects.filter(notice=notice, site__in=reopened).delete()
    # Two grouped queries for the whole batch, not two per site.
    last_down = dict(
        Event.objects.filter(site__in=sites, kind=EventKind.SITE_DOWN)
        .order_by()
        .values("site_id")
        .annotate(last=Max("at"))
        .values_list("site_id", "last")
    )
    first_report: dict[int, Report] = {}
    for rep in (
        Report.objects.filter(reporter=reporter, sites__in=sites)
        .annotate(site_pk=F("sites"))
        .order_by("received", "pk")
    ):
        first_report.setdefault(rep.site_pk, rep)
    rows = []
    for site in sites:
        down = last_down.get(site.pk)
        report = first_report.get(site.pk)
        rows.append(
            {
                "url": defang(site.url),
                "report_token": report.token if report else "",
                "down_at": timezone.localtime(down).strftime("%Y-%m-%d %H:%M %Z") if down else "-",
            }
        )
    subject, body = reporter_text(
        notice,
        "closed",
        {"sites": rows, "first_url": rows[0]["url"], "more": len(rows) - 1},
    )
    return outbox_enqueue(notice, subject=subject, body=body, to=[reporter.email.lower()])
