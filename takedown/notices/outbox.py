"""The outbox: every message we send, built once and handed to the mail server once.

1. ``outbox_enqueue`` builds the message (headers, text, attachments,
   optional OpenPGP signature) and stores its exact bytes as an
   ``OutboxMessage``, so a retry after an outage sends the very same message
   with the same Message-ID.
2. ``outbox_flush`` claims each due row with a conditional UPDATE
   (``pending`` -> ``sending``), hands the bytes to Django's mail backend and
   records the outcome: sent, retried with backoff, failed, or refused (a
   bounce at SMTP time).
3. ``notice_mark_sent`` records on the notice, its thread and its sites that
   the message left.
4. ``outbox_recover_stale``: a row a dead worker left in ``sending`` becomes
   ``uncertain`` and is never sent again (docs/notices.md, "No duplicates").
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.utils import timezone

from takedown.cases.models import EventKind, SiteState
from takedown.notices.intervals import parse_interval
from takedown.notices.mime import (
    Attachment,
    Outgoing,
    build_message,
    gpg_signer,
    new_message_id,
)
from takedown.notices.models import (
    ORG_KINDS,
    Notice,
    NoticeKind,
    NoticeState,
    OutboxMessage,
    OutboxState,
    Stall,
)
from takedown.notices.services import (
    closure_withdraw_if_reopened,
    notice_bounce,
    notice_event,
    notice_fail,
    notice_transition,
)
from takedown.notices.verp import outbox_send

log = logging.getLogger(__name__)


# --- building -----------------------------------------------------------------------


def _signer() -> Any:
    if not settings.NOTICE_GPG_KEY:
        return None
    return gpg_signer(
        home=settings.NOTICE_GPG_HOME,
        key=settings.NOTICE_GPG_KEY,
        passphrase=settings.NOTICE_GPG_PASSPHRASE,
    )


def thread_message_ids(notice: Notice) -> list[str]:
    """Message-IDs of the thread's messages already sent, oldest first (for References)."""
    root = notice.root
    ids = [root.message_id] if root.message_id else []
    ids += list(
        Notice.objects.filter(parent=root, sent_at__isnull=False)
        .exclude(pk=notice.pk)
        .order_by("sent_at", "pk")
        .values_list("message_id", flat=True)
    )
    return [i for i in ids if i]


def outbox_enqueue(
    notice: Notice,
    *,
    subject: str,
    body: str,
    to: list[str],
    cc: list[str] | None = None,
    attachments: list[Attachment] | None = None,
    threaded: bool = False,
) -> OutboxMessage:
    """Build the message once and queue it (the notice is ``queued`` already)."""
    message_id = new_message_id(f"tkd.n{notice.pk}", settings.NOTICE_FROM)
    references = thread_message_ids(notice) if threaded else []
    extra = {"Cc": ", ".join(cc)} if cc else {}
    extra["X-Takedown-Token"] = notice.token
    out = Outgoing(
        from_addr=settings.NOTICE_FROM,
        from_name=settings.TEAM_NAME,
        to=to,
        subject=subject,
        text=body,
        message_id=message_id,
        date=timezone.now(),
        in_reply_to=references[-1] if references else "",
        references=references,
        attachments=attachments or [],
        extra_headers=extra,
    )
    raw = build_message(out, gpg_sign=_signer())
    notice.subject = subject
    notice.body = body
    notice.recipients = to + (cc or [])
    notice.cc = list(cc or [])
    notice.message_id = message_id
    notice.save(update_fields=["subject", "body", "recipients", "cc", "message_id"])
    return OutboxMessage.objects.create(
        notice=notice,
        from_addr=settings.NOTICE_FROM,
        to=to + (cc or []),
        message_id=message_id,
        raw=raw,
    )


# --- sending ------------------------------------------------------------------------


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
        row = OutboxMessage.objects.select_related("notice").get(pk=pk)
        if row.notice.kind == NoticeKind.CLOSED and closure_withdraw_if_reopened(row.notice, row):
            continue
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
        notice_fail(
            Notice.objects.get(pk=row.notice_id), f"the mail server refused the message: {error}"
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
    notice_bounce(
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


# --- recording ----------------------------------------------------------------------


def deadline_after(at: datetime) -> datetime:
    """When a thread whose last message left at ``at`` is due for a follow-up."""
    return parse_interval(settings.NOTICE_RENOTIFY_AFTER).after(at, settings.TIME_ZONE)


def notice_mark_sent(notice: Notice, *, at: datetime, uncertain: bool = False) -> None:
    """Record on the notice, its thread and its sites that the message left.

    A message to the organisation, or an escalation, moves its sites to
    NOTIFIED (the event is "notice.sent", "notice.followup" or
    "notice.escalated"), sets the thread's rung and next deadline, and ends a
    stall (a handler's re-send).
    """
    root = notice.root
    data: dict[str, Any] = {
        "token": notice.token,
        "to": notice.recipients,
        "followup": root.followups if notice.kind == NoticeKind.FOLLOWUP else 0,
    }
    if notice.parent_id:
        data["thread"] = root.pk
    if uncertain:
        data["uncertain"] = True
    site_state = None
    if notice.kind in ORG_KINDS or notice.kind == NoticeKind.ESCALATION:
        # The thread goes on from where this message went (a handler's re-send
        # to the organisation after an escalation starts it there again).
        Notice.objects.filter(pk=root.pk).update(
            rung=notice.rung, next_deadline=deadline_after(at), stalled=Stall.NONE, stalled_at=None
        )
        site_state = SiteState.NOTIFIED
        if notice.kind == NoticeKind.FOLLOWUP:
            kind = EventKind.NOTICE_FOLLOWUP
        elif notice.kind == NoticeKind.ESCALATION:
            kind = EventKind.NOTICE_ESCALATED
            data["rung"] = notice.rung
            Notice.objects.filter(pk=root.pk, escalated_at__isnull=True).update(escalated_at=at)
        else:
            kind = EventKind.NOTICE_SENT
        if notice.kind == NoticeKind.RESEND:
            data["resend_of"] = notice.parent_id
    elif notice.kind == NoticeKind.ACK:
        kind = EventKind.REPORTER_ACK_SENT
    elif notice.kind == NoticeKind.CLOSED:
        kind = EventKind.REPORTER_CLOSED_SENT
        data["reporter"] = notice.reporter_id
    else:  # a handler's answer in a thread
        kind = EventKind.NOTICE_ANSWER_SENT
    if not notice_transition(
        notice,
        NoticeState.SENT,
        kind=kind,
        data=data,
        at=at,
        fields={"sent_at": at},
        site_state=site_state,
    ):
        # A reply or a bounce overtook this record (the sender died after the
        # server's "250"): the message did leave.
        Notice.objects.filter(pk=notice.pk).update(sent_at=at)
        notice.sent_at = at
        notice_event(notice, kind=kind, data=data, at=at, site_state=site_state)
