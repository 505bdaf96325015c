"""The write paths of the notices step (see docs/notices.md).

1. ``notice_plan_site``: a site seen up joins its organisation's collecting
   notice (one per organisation, open for ``NOTICE_BATCH_WINDOW`` seconds).
2. ``notices_compose_due``: a collecting notice whose window has passed is
   claimed, composed and put in the outbox with its exact bytes.
3. ``outbox_flush``: each pending message is claimed with a conditional
   UPDATE, handed to Django's mail backend, and on success every site in it
   moves to NOTIFIED (``notice.sent`` / ``notice.followup``).
4. ``notices_process_deadlines``: a thread whose sites are still up
   ``NOTICE_RENOTIFY_AFTER`` after its last message gets a follow-up in the
   same thread; after ``NOTICE_MAX_FOLLOWUPS`` it is escalated once.
5. ``inbound_store`` / ``inbound_process``: inbound mail is stored raw, then
   classified and routed (reply, auto-reply, bounce, ARF, new report).
6. Reporters: ``reporter_ack`` on a new report; ``site_close`` tells the
   reporters who want it that a site is down, then closes the site.

Each decision has a unique key (``Notice.idempotency_key``,
``NoticeSite.decision_key``), so a retried task or a second worker cannot make
the same notice twice, and each outbox row is claimed before it is sent, so it
is handed to the mail server at most once.
"""

from __future__ import annotations

import logging
import re
import smtplib
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.core.mail import get_connection
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from takedown.cases.models import Event, EventKind, Site, SiteState
from takedown.cases.services import event_record, site_try_transition
from takedown.intake.models import Reporter
from takedown.notices.classify import Classified, classify_message
from takedown.notices.compose import (
    notice_text,
    org_language,
    outbox_enqueue,
    reporter_text,
    xarf_attachment,
)
from takedown.notices.contacts import escalation_recipients, recipients_for
from takedown.notices.intervals import parse_interval
from takedown.notices.mime import Attachment
from takedown.notices.models import (
    ORG_KINDS,
    REPORTER_KINDS,
    BadAddress,
    InboundKind,
    InboundMessage,
    Notice,
    NoticeKind,
    NoticeSite,
    NoticeState,
    OutboxMessage,
    OutboxState,
)
from takedown.notices.verp import outbox_send, signed_notice

log = logging.getLogger(__name__)

# States in which a site still wants a notice (first one, or after a revival).
NOTICEABLE = {SiteState.LOCATED, SiteState.REVIVED}
# States in which a notified site is still up as far as we know.
STILL_UP = {SiteState.NOTIFIED, SiteState.REVIVED}
_SENT_STATES = [NoticeState.SENT, NoticeState.REPLIED, NoticeState.BOUNCED, NoticeState.CLOSED]


def _episode(site: Site) -> int:
    """How many times the site came back: a revival is a new decision to notify."""
    return Event.objects.filter(site=site, kind=EventKind.SITE_REVIVED).count()


def _deadline_after(at: datetime) -> datetime:
    return parse_interval(settings.NOTICE_RENOTIFY_AFTER).after(at, settings.TIME_ZONE)


# --- 1. planning ------------------------------------------------------------------


def notice_plan_site(site_id: int, *, now: datetime | None = None) -> Notice | None:
    """Put a site that was seen up into its organisation's collecting notice."""
    now = now or timezone.now()
    site = Site.objects.select_related("organization").filter(pk=site_id).first()
    if site is None or site.historical or site.state not in NOTICEABLE:
        return None
    org = site.organization
    if org is None:
        event_record(
            kind=EventKind.NOTICE_NO_CONTACT,
            site=site,
            message="no responsible organisation is known for this site; a handler must decide",
        )
        return None
    decision = f"org{org.pk}:site{site.pk}:notify{_episode(site)}"
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


# --- 2. composing -----------------------------------------------------------------


def notices_compose_due(*, now: datetime | None = None, limit: int = 200) -> int:
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
            Notice.objects.filter(pk=pk).update(
                state=NoticeState.FAILED, error=f"compose: {exc}"[:2000]
            )
    return done


def _open_sites(notice: Notice, states: set[Any]) -> list[Site]:
    return list(notice.sites.filter(state__in=states).order_by("pk"))


def notice_compose(notice_id: int) -> OutboxMessage | None:
    with transaction.atomic():
        claimed = Notice.objects.filter(pk=notice_id, state=NoticeState.COLLECTING).update(
            state=NoticeState.QUEUED
        )
        if not claimed:
            return None
        notice = Notice.objects.select_related("organization", "reporter").get(pk=notice_id)
        if notice.kind == NoticeKind.CLOSED:
            return _compose_closed(notice)
        sites = _open_sites(notice, NOTICEABLE)
        # Sites that went down (or were handled) while the window was open are
        # dropped from the notice, not told about.
        NoticeSite.objects.filter(notice=notice).exclude(site__in=sites).delete()
        if not sites:
            notice.state = NoticeState.CANCELLED
            notice.error = "no site still needs this notice"
            notice.save(update_fields=["state", "error"])
            return None
        if any(s.state == SiteState.LOCATED for s in sites) and notice.kind == NoticeKind.REVIVAL:
            notice.kind = NoticeKind.INITIAL
            notice.save(update_fields=["kind"])
        return _compose_org_notice(notice, sites)


def _fail(
    notice: Notice,
    sites: list[Site],
    reason: str,
    *,
    event_kind: EventKind = EventKind.NOTICE_NO_CONTACT,
) -> None:
    notice.state = NoticeState.FAILED
    notice.error = reason
    notice.save(update_fields=["state", "error"])
    for site in sites:
        event_record(
            kind=event_kind,
            site=site,
            organization=notice.organization,
            message=reason,
            data={"notice": notice.pk},
        )


def _compose_org_notice(
    notice: Notice, sites: list[Site], *, to: list[str] | None = None, threaded: bool = False
) -> OutboxMessage | None:
    org = notice.organization
    if to is None:
        _tier, to = recipients_for(org)
    if not to:
        _fail(
            notice,
            sites,
            f"no usable address for {org}: every known contact bounced or none is recorded",
        )
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


# --- 3. sending -------------------------------------------------------------------


def _permanent(exc: BaseException) -> bool:
    code = getattr(exc, "smtp_code", None)
    return isinstance(code, int) and 500 <= code < 600


def outbox_recover_stale(*, now: datetime | None = None) -> int:
    """Messages a dead worker claimed but never finished: never sent again.

    The worker may have handed the message to the server before it died, and
    a second copy of a notice is worse than a late follow-up, so the message
    is marked ``uncertain``, the thread goes on as if it was sent, and the
    handler sees it in the outbox.
    """
    now = now or timezone.now()
    limit = now - timedelta(seconds=settings.NOTICE_SENDING_TIMEOUT)
    stale = list(
        OutboxMessage.objects.filter(state=OutboxState.SENDING, claimed_at__lt=limit).values_list(
            "pk", flat=True
        )
    )
    for pk in stale:
        with transaction.atomic():
            if OutboxMessage.objects.filter(pk=pk, state=OutboxState.SENDING).update(
                state=OutboxState.UNCERTAIN,
                last_error="the worker sending this message stopped; it may or may not have left",
            ):
                row = OutboxMessage.objects.select_related("notice").get(pk=pk)
                notice_mark_sent(row.notice, at=row.claimed_at or now, uncertain=True)
    return len(stale)


def outbox_flush(*, now: datetime | None = None, limit: int = 50) -> int:
    """Send what is due; return the number of messages the server accepted."""
    now = now or timezone.now()
    outbox_recover_stale(now=now)
    ids = list(
        OutboxMessage.objects.filter(state=OutboxState.PENDING, next_attempt__lte=now)
        .order_by("next_attempt", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    connection: Any = None
    for pk in ids:
        claimed = OutboxMessage.objects.filter(pk=pk, state=OutboxState.PENDING).update(
            state=OutboxState.SENDING, claimed_at=timezone.now()
        )
        if not claimed:
            continue
        row = OutboxMessage.objects.get(pk=pk)
        try:
            if connection is None:
                connection = get_connection(fail_silently=False)
                connection.open()
            refused = outbox_send(connection, row)
        except smtplib.SMTPRecipientsRefused as exc:
            connection = _close(connection)
            outbox_refused(row, dict(exc.recipients))
        except Exception as exc:  # SMTP errors, refused connections, timeouts, backend errors
            connection = _close(connection)
            outbox_failed(row, exc, permanent=_permanent(exc), now=now)
        else:
            outbox_sent(row)
            if refused:
                _refused_apply(row, refused)
            sent += 1
    _close(connection)
    return sent


def _close(connection: Any) -> Any:
    """Close a mail connection, ignoring errors; returns None to reset the variable."""
    if connection is not None:
        try:
            connection.close()
        except Exception:  # closing a broken connection may fail too; nothing to do
            log.debug("closing the mail connection failed", exc_info=True)
    return None


def outbox_sent(row: OutboxMessage) -> None:
    with transaction.atomic():
        now = timezone.now()
        OutboxMessage.objects.filter(pk=row.pk).update(
            state=OutboxState.SENT, sent_at=now, attempts=row.attempts + 1
        )
        notice_mark_sent(Notice.objects.get(pk=row.notice_id), at=now)


def outbox_failed(
    row: OutboxMessage, exc: BaseException, *, permanent: bool, now: datetime | None = None
) -> None:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    attempts = row.attempts + 1
    if permanent:
        OutboxMessage.objects.filter(pk=row.pk).update(
            state=OutboxState.FAILED, attempts=attempts, last_error=error
        )
        notice = Notice.objects.get(pk=row.notice_id)
        _fail(
            notice,
            list(notice.sites.all()),
            f"the mail server refused the message: {error}",
            event_kind=EventKind.NOTICE_FAILED,
        )
        return
    delay = min(settings.NOTICE_RETRY_BASE * 2 ** (attempts - 1), settings.NOTICE_RETRY_MAX)
    OutboxMessage.objects.filter(pk=row.pk).update(
        state=OutboxState.PENDING,
        attempts=attempts,
        last_error=error,
        next_attempt=max(now or timezone.now(), timezone.now()) + timedelta(seconds=delay),
        claimed_at=None,
    )
    log.warning("outbox %s: %s; retry in %.0fs", row.pk, error, delay)


def outbox_refused(row: OutboxMessage, refused: dict[str, Any]) -> None:
    """Our own mail server refused every recipient: treat like a bounce."""
    OutboxMessage.objects.filter(pk=row.pk).update(
        state=OutboxState.FAILED,
        attempts=row.attempts + 1,
        last_error=f"recipients refused: {refused}"[:2000],
    )
    _refused_apply(row, refused)


def _refused_apply(row: OutboxMessage, refused: dict[str, Any]) -> None:
    """Recipients our mail server refused (all, or some while it took the others) bounced."""
    notice = Notice.objects.select_related("organization").get(pk=row.notice_id)
    permanent = all(_code(v) >= 500 for v in refused.values())
    _bounce_apply(
        notice,
        [a.lower() for a in refused],
        permanent=permanent,
        inbound=None,
        reason=f"refused at SMTP: {refused}",
    )


def _code(value: Any) -> int:
    try:
        return int(value[0])
    except (TypeError, ValueError, IndexError):
        return 550


def notice_mark_sent(notice: Notice, *, at: datetime, uncertain: bool = False) -> None:
    """Record on the notice, its thread and its sites that the message left."""
    if notice.state == NoticeState.QUEUED:
        notice.state = NoticeState.SENT
    notice.sent_at = at
    notice.save(update_fields=["state", "sent_at"])
    root = notice.root
    data: dict[str, Any] = {
        "notice": notice.pk,
        "token": notice.token,
        "to": notice.recipients,
        "followup": root.followups if notice.kind == NoticeKind.FOLLOWUP else 0,
    }
    if notice.parent_id:
        data["thread"] = root.pk
    if uncertain:
        data["uncertain"] = True
    if notice.kind in ORG_KINDS:
        if root.escalated_at is None:
            Notice.objects.filter(pk=root.pk).update(next_deadline=_deadline_after(at))
        kind = (
            EventKind.NOTICE_FOLLOWUP
            if notice.kind == NoticeKind.FOLLOWUP
            else EventKind.NOTICE_SENT
        )
        if notice.kind == NoticeKind.RESEND:
            data["resend_of"] = notice.parent_id
        for site in notice.sites.all():
            if (
                site_try_transition(
                    site,
                    SiteState.NOTIFIED,
                    kind=kind,
                    organization=notice.organization,
                    data=data,
                    at=at,
                )
                is None
            ):
                log.info(
                    "notice %s: site %s is %s, not moved to notified",
                    notice.pk,
                    site.pk,
                    site.state,
                )
    elif notice.kind == NoticeKind.ESCALATION:
        Notice.objects.filter(pk=root.pk).update(escalated_at=at, next_deadline=None)
        for site in notice.sites.all():
            event_record(
                kind=EventKind.NOTICE_ESCALATED,
                site=site,
                organization=notice.organization,
                data=data,
                at=at,
            )
    elif notice.kind == NoticeKind.ACK:
        event_record(kind=EventKind.REPORTER_ACK_SENT, report=notice.report, data=data, at=at)
    elif notice.kind == NoticeKind.CLOSED:
        for ns in notice.notice_sites.select_related("site"):
            event_record(
                kind=EventKind.REPORTER_CLOSED_SENT,
                site=ns.site,
                data={**data, "reporter": notice.reporter_id},
                at=at,
            )


# --- 4. deadlines -----------------------------------------------------------------


def _thread_sites_still_up(root: Notice) -> list[Site]:
    """Sites of the thread that are still up and whose latest notice is this thread."""
    sites = list(root.sites.filter(state__in=STILL_UP).order_by("pk"))
    # One grouped query instead of one per site: a thread can hold hundreds.
    latest = dict(
        NoticeSite.objects.filter(
            site__in=sites, notice__kind__in=[NoticeKind.INITIAL, NoticeKind.REVIVAL]
        )
        .exclude(notice__state__in=[NoticeState.CANCELLED, NoticeState.COLLECTING])
        .order_by()
        .values("site_id")
        .annotate(latest=Max("notice_id"))
        .values_list("site_id", "latest")
    )
    return [site for site in sites if latest.get(site.pk) == root.pk]


def notices_process_deadlines(*, now: datetime | None = None, limit: int = 200) -> int:
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
        # Claim the deadline: clearing it conditionally means only one worker acts on it.
        if not Notice.objects.filter(pk=pk, next_deadline=deadline).update(next_deadline=None):
            continue
        root = Notice.objects.select_related("organization").get(pk=pk)
        try:
            if notice_deadline_passed(root) is not None:
                done += 1
        except Exception:
            log.exception("deadline of notice %s could not be processed", pk)
    return done


def notice_deadline_passed(root: Notice) -> Notice | None:
    sites = _thread_sites_still_up(root)
    if not sites:
        return None
    if root.followups < settings.NOTICE_MAX_FOLLOWUPS:
        return notice_followup(root, sites)
    if settings.NOTICE_ESCALATE and root.escalated_at is None:
        return notice_escalate(root, sites)
    return None


def _notice_create_once(sites: list[Site], **fields: Any) -> Notice | None:
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


def notice_followup(root: Notice, sites: list[Site]) -> Notice | None:
    number = root.followups + 1
    with transaction.atomic():
        followup = _notice_create_once(
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
        _compose_org_notice(followup, sites, threaded=True)
    return followup


def notice_escalate(root: Notice, sites: list[Site]) -> Notice | None:
    pairs = escalation_recipients(root.organization, sites)
    with transaction.atomic():
        notice = _notice_create_once(
            sites,
            kind=NoticeKind.ESCALATION,
            organization=root.organization,
            parent=root,
            language="en",
            idempotency_key=f"escalate:{root.pk}",
        )
        if notice is None:
            return None
        if not pairs:
            Notice.objects.filter(pk=root.pk).update(escalated_at=timezone.now())
            _fail(
                notice,
                sites,
                "no escalation contact known "
                "(registrar, CDN, upstream or an enabled national CSIRT)",
                event_kind=EventKind.NOTICE_ESCALATION_FAILED,
            )
            return notice
        roles = list(dict.fromkeys(role for role, _ in pairs))
        to = [addr for _, addr in pairs]
        _tier, cc = recipients_for(root.organization)
        subject, body = notice_text(notice, sites, extra={"roles": roles})
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
            cc=[a for a in cc if a not in to],
            attachments=attachments,
            threaded=True,
        )
    return notice


# --- 5. bounces and the next contact ----------------------------------------------


def _bounce_apply(
    notice: Notice,
    addresses: list[str],
    *,
    permanent: bool,
    inbound: InboundMessage | None,
    reason: str,
) -> list[str]:
    recipients = [a.lower() for a in notice.recipients]
    hit = [a for a in addresses if a in recipients]
    if not hit and permanent and len(recipients) == 1 and not addresses:
        # The bounce names no address but belongs to a one-recipient notice.
        hit = recipients
    org = notice.organization if notice.kind in ORG_KINDS else None
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
    if notice.state in {NoticeState.SENT, NoticeState.QUEUED, NoticeState.FAILED}:
        Notice.objects.filter(pk=notice.pk).update(state=NoticeState.BOUNCED)
        notice.state = NoticeState.BOUNCED
    data = {
        "notice": notice.pk,
        "addresses": hit or addresses,
        "permanent": permanent,
        "inbound": inbound.pk if inbound else None,
    }
    if notice.kind in {NoticeKind.ACK}:
        event_record(
            kind=EventKind.REPORTER_BOUNCED, report=notice.report, data=data, message=reason[:500]
        )
    else:
        kind = (
            EventKind.REPORTER_BOUNCED
            if notice.kind == NoticeKind.CLOSED
            else EventKind.NOTICE_BOUNCED
        )
        for site in notice.sites.all():
            event_record(
                kind=kind,
                site=site,
                organization=notice.organization,
                data=data,
                message=reason[:500],
            )
    if (
        permanent
        and notice.kind in ORG_KINDS
        and recipients
        and set(recipients) <= BadAddress.blocked_for(org)
    ):
        notice_resend_next_contact(notice)
    return hit


def notice_resend_next_contact(notice: Notice) -> Notice | None:
    """Every address of a notice bounced: send it to the organisation's next contact."""
    root = notice.root
    sites = list(root.sites.filter(state__in=STILL_UP | NOTICEABLE).order_by("pk"))
    if not sites:
        return None
    tier, to = recipients_for(notice.organization)
    if not to:
        for site in sites:
            event_record(
                kind=EventKind.NOTICE_NO_CONTACT,
                site=site,
                organization=notice.organization,
                message="every known contact of the organisation bounced",
                data={"notice": notice.pk},
            )
        return None
    key = f"resend:{root.pk}:{','.join(sorted(to))}"[:200]
    with transaction.atomic():
        resend = _notice_create_once(
            sites,
            kind=NoticeKind.RESEND,
            organization=notice.organization,
            parent=root,
            language=root.language,
            idempotency_key=key,
        )
        if resend is None:
            return None
        _compose_org_notice(resend, sites, to=to)
    log.info("notice %s bounced; re-sent as %s to the %s contact", notice.pk, resend.pk, tier)
    return resend


# --- 6. reporters -----------------------------------------------------------------


def _reporter_reachable(reporter: Any) -> bool:
    email = (getattr(reporter, "email", "") or "").lower()
    return bool(email) and email not in {settings.NOTICE_FROM.lower(), settings.TEAM_EMAIL.lower()}


def reporter_ack(report_id: int) -> Notice | None:
    """Acknowledge a report to its reporter, with the report's token."""
    from takedown.intake.models import Channel, Report

    report = Report.objects.select_related("reporter").filter(pk=report_id).first()
    if (
        report is None
        or report.reporter is None
        or report.channel in {Channel.IMPORT, Channel.FEED}
    ):
        return None
    reporter = report.reporter
    if not reporter.notify_ack or not _reporter_reachable(reporter):
        return None
    with transaction.atomic():
        sites = list(report.sites.order_by("pk"))
        notice = _notice_create_once(
            sites,
            kind=NoticeKind.ACK,
            reporter=reporter,
            report=report,
            language=reporter.language,
            idempotency_key=f"ack:report{report.pk}",
        )
        if notice is None:
            return None
        from takedown.lib.defang import defang

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
    """A site is confirmed down: plan the reporters' closure message, then close it.

    The site reaches CLOSED whether or not a reporter is to be told (no
    reporter, no address, or they switched the message off).
    """

    now = now or timezone.now()
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        return
    episode = _episode(site)
    reporters = (
        Reporter.objects.filter(reports__sites=site, notify_closed=True).distinct().order_by("pk")
    )
    for reporter in reporters:
        if not _reporter_reachable(reporter):
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
                break
            except IntegrityError:
                continue
    site_try_transition(site, SiteState.CLOSED, kind=EventKind.SITE_CLOSED)


def _compose_closed(notice: Notice) -> OutboxMessage | None:
    from takedown.lib.defang import defang

    reporter = notice.reporter
    sites = list(notice.sites.order_by("pk"))
    if (
        reporter is None
        or not sites
        or not _reporter_reachable(reporter)
        or not reporter.notify_closed
    ):
        notice.state = NoticeState.CANCELLED
        notice.save(update_fields=["state"])
        return None
    from takedown.intake.models import Report

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


def site_revived(site_id: int) -> Notice | None:
    """A site came back: a new notice, which names the earlier one."""
    return notice_plan_site(site_id)


# --- 7. inbound mail --------------------------------------------------------------


def inbound_store(
    raw: bytes,
    *,
    source: str = "smtp",
    peer: str = "",
    mail_from: str = "",
    rcpt_to: list[str] | None = None,
) -> InboundMessage:
    """Keep the message exactly as it arrived, before anything can fail."""
    return InboundMessage.objects.create(
        raw=raw,
        size=len(raw),
        sha256=InboundMessage.digest(raw),
        source=source[:8],
        peer=peer[:100],
        mail_from=mail_from[:500],
        rcpt_to=[r[:500] for r in (rcpt_to or [])][:100],
    )


def inbound_receive(raw: bytes, **kwargs: Any) -> InboundMessage:
    """Store, then process; a processing error is recorded, never raised."""
    inbound = inbound_store(raw, **kwargs)
    try:
        inbound_process(inbound)
    except Exception as exc:
        log.exception("inbound %s could not be processed", inbound.pk)
        InboundMessage.objects.filter(pk=inbound.pk).update(
            kind=InboundKind.ERROR,
            reason=f"processing failed: {type(exc).__name__}: {exc}"[:2000],
            processed=timezone.now(),
        )
        inbound.refresh_from_db()
    return inbound


def _sent_notice_by_message_ids(ids: list[str]) -> tuple[Notice | None, str]:
    if not ids:
        return None, ""
    row = (
        OutboxMessage.objects.filter(message_id__in=ids[:50])
        .filter(Q(state=OutboxState.SENT) | Q(state=OutboxState.UNCERTAIN))
        .select_related("notice")
        .order_by("-pk")
        .first()
    )
    if row is None:
        return None, ""
    return row.notice, row.message_id


def _notice_by_token(tokens: list[int], tags: dict[int, str]) -> Notice | None:
    """The thread a subject token names, when its tag is the thread's.

    Threads from before tags ("TKD#N12") have an empty tag and still match the
    bare token; a tagged thread needs its tag, which cannot be guessed.
    """
    for token in tokens:
        notice = Notice.objects.filter(pk=token, sent_at__isnull=False).first()
        if notice is not None and notice.token_tag.lower() == tags.get(token, ""):
            return notice
    return None


class InboundMatch(NamedTuple):
    notice: Notice | None
    how: str
    # Tied by construction: a signed envelope sender (``recipient`` is the
    # address it names) or a Message-ID we sent. Only such a bounce may mark an
    # address bad; a token or a recipient alone could be forged.
    proven: bool = False
    recipient: str = ""


def inbound_match(c: Classified, *, envelope: list[str] | None = None) -> InboundMatch:
    """The notice a message answers, and how we know.

    1. A signed envelope sender of ours among the envelope recipients (or the
       Delivered-To headers): the notice and the recipient, whatever the body says.
    2. A Message-ID we sent in In-Reply-To/References; for bounces and ARF also
       the original's Message-ID. Only Message-IDs we actually sent count: a
       forged In-Reply-To pointing at someone else's message matches nothing.
    3. A thread token in the subject (or the original's), with its tag.
    4. For a bounce, the latest notice sent to a failed address (30 days).
    """
    signed = signed_notice([*(envelope or []), *c.delivered_to])
    if signed is not None:
        how = f"signed envelope sender for {signed[1]}"
        return InboundMatch(signed[0], how, proven=True, recipient=signed[1])
    notice, msgid = _sent_notice_by_message_ids(c.references)
    if notice is not None:
        return InboundMatch(notice, f"In-Reply-To/References {msgid}", proven=True)
    if c.kind in {"bounce", "arf"}:
        notice, msgid = _sent_notice_by_message_ids(c.original_message_ids)
        if notice is not None:
            return InboundMatch(notice, f"original message {msgid}", proven=True)
        notice = _notice_by_token(c.original_notice_tokens, c.token_tags)
        if notice is not None:
            return InboundMatch(notice, f"token {notice.token} in the original subject")
    notice = _notice_by_token(c.notice_tokens, c.token_tags)
    if notice is not None:
        return InboundMatch(notice, f"token {notice.token} in the subject")
    if c.kind == "bounce" and c.failed_recipients:
        since = timezone.now() - timedelta(days=30)
        for candidate in Notice.objects.filter(sent_at__gte=since).order_by("-sent_at")[:500]:
            if set(c.failed_recipients) & {a.lower() for a in candidate.recipients}:
                return InboundMatch(
                    candidate, "failed recipient matches the latest notice sent to it"
                )
    return InboundMatch(None, "")


def _known_contact(address: str) -> bool:
    """Whether ``address`` is a responsible party's contact we wrote to.

    Mail from such an address without a token is most likely a reply that
    lost its token, so it waits for a handler.  Reporters are not counted:
    a reporter we acknowledged may well send a new report, and it must reach
    intake (seed cases 3 and 4: the same bank reports again).
    """
    if not address:
        return False
    if Reporter.objects.filter(email__iexact=address).exists():
        return False
    return (
        Notice.objects.filter(recipients__icontains=address, sent_at__isnull=False)
        .exclude(kind__in=REPORTER_KINDS)
        .exists()
    )


def inbound_process(inbound: InboundMessage) -> InboundMessage:
    raw = bytes(inbound.raw)
    c = classify_message(raw)
    inbound.subject = c.subject[:500]
    inbound.from_header = c.from_header[:500]
    inbound.message_id = c.message_id[:998]
    inbound.details = {
        "classified": c.kind,
        "classification": c.reason,
        "references": c.references[:10],
        "failed_recipients": c.failed_recipients[:50],
        "permanent": c.permanent,
        "status": c.status,
        "diagnostic": c.diagnostic,
        "feedback_type": c.feedback_type,
        "parts": c.parts,
        "warnings": c.warnings[:20],
    }
    match = inbound_match(c, envelope=list(inbound.rcpt_to or []))
    notice, how = match.notice, match.how
    if notice is not None:
        inbound.notice = notice
        inbound.details["matched_by"] = how

    if c.kind == "bounce" and notice is not None and match.proven:
        inbound.kind = InboundKind.BOUNCE
        # A signed envelope sender names the recipient: the body's addresses do not count.
        failed = [match.recipient] if match.recipient else c.failed_recipients
        hit = _bounce_apply(notice, failed, permanent=c.permanent, inbound=inbound, reason=c.reason)
        inbound.reason = f"{c.reason}; for {notice.token} ({how}); bad: {', '.join(hit) or 'none'}"
    elif c.kind == "bounce":
        # Anyone can write a bounce: one tied to no signed envelope sender and no
        # Message-ID we sent marks nothing bad; a handler looks at it.
        inbound.kind = InboundKind.UNMATCHED
        maybe = f"; it may concern {notice.token} ({how})" if notice is not None else ""
        inbound.reason = (
            f"{c.reason}; not sent to a signed envelope sender of ours and quotes no "
            f"Message-ID we sent, so no address is marked bad{maybe}"
        )
    elif c.kind == "auto_reply":
        inbound.kind = InboundKind.AUTO_REPLY
        inbound.reason = c.reason
        if notice is not None:
            _reply_events(notice, inbound, human=False)
    elif c.kind == "arf":
        inbound.kind = InboundKind.ARF
        inbound.reason = c.reason
        if notice is not None:
            for site in notice.sites.all():
                event_record(
                    kind=EventKind.NOTICE_COMPLAINT,
                    site=site,
                    organization=notice.organization,
                    data={
                        "notice": notice.pk,
                        "inbound": inbound.pk,
                        "feedback_type": c.feedback_type,
                    },
                )
        elif c.feedback_type in {"fraud", "virus"}:
            _to_intake(inbound, raw, c)
    elif notice is not None:
        inbound.kind = InboundKind.REPLY
        inbound.reason = f"reply to {notice.token} ({how})"
        _reply_events(notice, inbound, human=True)
    elif c.report_tokens:
        _reporter_followup(inbound, c)
    elif c.in_reply_to or re.match(r"^\s*(re|aw|sv|antw|返信)\s*[:：]", c.subject, re.IGNORECASE):
        inbound.kind = InboundKind.UNMATCHED
        inbound.reason = (
            "looks like a reply but names no notice of ours: "
            f"In-Reply-To {c.in_reply_to or '-'} is "
            "not a message we sent and the subject has no token"
        )
    elif _known_contact(c.from_address):
        inbound.kind = InboundKind.UNMATCHED
        inbound.reason = f"from {c.from_address}, a contact we sent notices to, without a token"
    else:
        _to_intake(inbound, raw, c)
    inbound.processed = timezone.now()
    inbound.save()
    return inbound


def _reply_events(notice: Notice, inbound: InboundMessage, *, human: bool) -> None:
    root = notice.root
    now = timezone.now()
    data = {"notice": root.pk, "message": notice.pk, "human": human, "inbound": inbound.pk}
    if human:
        for target in {notice.pk, root.pk}:
            Notice.objects.filter(
                pk=target, state__in=[NoticeState.SENT, NoticeState.BOUNCED, NoticeState.QUEUED]
            ).update(state=NoticeState.REPLIED, replied_at=now)
    if notice.kind == NoticeKind.ACK:
        event_record(
            kind=EventKind.REPORTER_REPLIED if human else EventKind.REPORTER_AUTO_REPLY,
            report=notice.report,
            data=data,
        )
        return
    if notice.kind == NoticeKind.CLOSED:
        kind = EventKind.REPORTER_REPLIED if human else EventKind.REPORTER_AUTO_REPLY
    else:
        kind = EventKind.NOTICE_REPLIED if human else EventKind.NOTICE_AUTO_REPLY
    for site in notice.sites.all():
        event_record(kind=kind, site=site, organization=notice.organization, data=data)


def _reporter_followup(inbound: InboundMessage, c: Classified) -> None:
    from takedown.intake.models import Report

    report = Report.objects.filter(pk__in=c.report_tokens).first()
    if report is None:
        inbound.kind = InboundKind.UNMATCHED
        inbound.reason = f"names report token(s) {c.report_tokens} that do not exist"
        return
    inbound.kind = InboundKind.REPLY
    inbound.report = report
    inbound.reason = f"the reporter wrote about {report.token}; left for a handler"
    event_record(
        kind=EventKind.REPORTER_REPLIED, report=report, data={"inbound": inbound.pk, "human": True}
    )


_KANA = re.compile(r"[\u3040-\u30ff]")


def _to_intake(inbound: InboundMessage, raw: bytes, c: Classified) -> None:
    """A new incident report: hand the whole message to intake."""
    from takedown.intake.services import ReporterInfo, ReportError, report_receive

    inbound.kind = InboundKind.REPORT
    language = "ja" if _KANA.search(c.subject + c.text[:5000]) else ""
    name = c.from_header.partition("<")[0].strip().strip('"') or c.from_address
    try:
        result = report_receive(
            channel="email",
            raw_mail=raw,
            reporter=ReporterInfo(name=name[:200], email=c.from_address, language=language),
            subject=c.subject,
            message_id=c.message_id,
            received=inbound.received,
        )
    except ReportError as exc:
        inbound.report = exc.report
        inbound.reason = f"new report; intake could not use it: {exc}"[:2000]
        return
    inbound.report = result.report
    inbound.reason = f"new report {result.report.token}: {len(result.sites)} site(s)"


# --- 8. handler actions -----------------------------------------------------------


def notice_close_per_admin(
    notice: Notice, *, actor: str, inbound: InboundMessage | None = None
) -> None:
    """The administrator says the site is gone: note it and check the site now.

    The site itself becomes DOWN only when the monitor confirms it, as in the
    seed ("admin says closed -> URL confirmed inaccessible").
    """
    root = notice.root
    now = timezone.now()
    with transaction.atomic():
        Notice.objects.filter(pk__in={notice.pk, root.pk}).update(state=NoticeState.CLOSED)
        for site in root.sites.all():
            event_record(
                kind=EventKind.NOTICE_CLOSED_PER_ADMIN,
                site=site,
                organization=notice.organization,
                actor=actor,
                data={"notice": root.pk, "inbound": inbound.pk if inbound else None},
            )
        root.sites.filter(state__in=STILL_UP).update(next_check=now)
        if inbound is not None:
            InboundMessage.objects.filter(pk=inbound.pk).update(handled_by=actor)


def bad_address_allow(bad: BadAddress, *, actor: str) -> None:
    BadAddress.objects.filter(pk=bad.pk).update(allowed_at=timezone.now(), allowed_by=actor[:150])
    event_record(
        kind=EventKind.NOTICE_ADDRESS_ALLOWED,
        organization=bad.organization,
        actor=actor,
        message=f"{bad.address} may be used again",
        data={"address": bad.address},
    )


# --- the periodic loop ------------------------------------------------------------


def mail_tick(*, now: datetime | None = None) -> int:
    """One round of the notices loop; returns how much work was found."""
    work = notices_compose_due(now=now)
    work += notices_process_deadlines(now=now)
    work += outbox_flush(now=now)
    return work
