"""Inbound mail: stored raw first, then classified and routed.

``inbound_receive`` is the one way in, for the SMTP/LMTP listener, the IMAP
poller and the CLI alike:

1. ``inbound_store`` keeps the message exactly as it arrived, before
   anything can fail (the listener answers "250" only after this).
2. ``inbound_process`` classifies it (``classify.py``: reply, automatic
   reply, bounce, ARF, or a human's mail) and finds the notice it belongs to
   (``inbound_match``: only Message-IDs and tokens we sent count);
3. then routes it: a reply or automatic reply is recorded on the notice's
   sites, a bounce marks the address bad (``services.notice_bounce``), an
   ARF complaint is recorded, a new incident report goes to intake, and what
   cannot be placed waits for a handler (``unmatched``).

A processing error leaves the message stored with kind ``error`` and the
reason; it never loses the message and never reaches the sender.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation

from takedown.cases.models import EventKind
from takedown.cases.services import event_record
from takedown.intake.models import Report, Reporter
from takedown.intake.services import ReporterInfo, ReportError, report_receive
from takedown.notices.classify import Classified, classify_message
from takedown.notices.models import (
    REPORTER_KINDS,
    InboundKind,
    InboundMessage,
    Notice,
    NoticeKind,
    NoticeState,
    OutboxMessage,
    OutboxState,
)
from takedown.notices.services import (
    inbound_transition,
    notice_bounce,
    notice_event,
    notice_transition,
)
from takedown.notices.verp import signed_notice

log = logging.getLogger(__name__)


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
    """Store, then process; a processing error is recorded, never raised.

    Only a failure to store raises (the listener then answers "451" and the
    sending MTA keeps the message).
    """
    inbound = inbound_store(raw, **kwargs)
    try:
        inbound_process(inbound)
    except Exception as exc:
        log.exception("inbound %s could not be processed", inbound.pk)
        inbound_transition(
            inbound,
            InboundKind.ERROR,
            reason=f"processing failed: {type(exc).__name__}: {exc}",
            kind=EventKind.INBOUND_FAILED,
        )
        inbound.refresh_from_db()
    return inbound


# Outbox states of a message that was handed to the mail server.  ``sending``
# counts: a desk that answers at once can reply before the server's "250" is
# recorded, and a Message-ID (like a token's tag) is random, so only the
# message itself can have told it to anyone.
_HANDED_OVER = (OutboxState.SENDING, OutboxState.SENT, OutboxState.UNCERTAIN)


def _sent_notice_by_message_ids(ids: list[str]) -> tuple[Notice | None, str]:
    if not ids:
        return None, ""
    row = (
        OutboxMessage.objects.filter(message_id__in=ids[:50], state__in=_HANDED_OVER)
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
        notice = (
            Notice.objects.filter(pk=token)
            .filter(Q(sent_at__isnull=False) | Q(outbox__state__in=_HANDED_OVER))
            .first()
        )
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


@dataclass
class Routed:
    """Where a message went: its kind, why, and the report it made or concerns."""

    kind: str
    reason: str
    report: Report | None = None


def inbound_process(inbound: InboundMessage) -> InboundMessage:
    """Classify and route a stored message (see the module's docstring).

    Everything it records (events, a bad address, the report it makes) is
    written in one transaction with the message's kind, so a crash leaves
    the message ``pending`` with nothing half done.
    """
    raw = bytes(inbound.raw)
    c = classify_message(raw)
    details: dict[str, Any] = {
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
        details["matched_by"] = how
    with transaction.atomic():
        routed = _route(inbound, raw, c, match)
        if not inbound_transition(
            inbound,
            routed.kind,
            reason=routed.reason,
            notice=notice,
            report=routed.report,
            expect=InboundKind.PENDING,
            fields={
                "subject": c.subject[:500],
                "from_header": c.from_header[:500],
                "message_id": c.message_id[:998],
                "details": details,
            },
        ):
            # Another worker processed it first: undo what this one recorded.
            transaction.set_rollback(True)
    return inbound


def inbound_process_pending(*, now: datetime | None = None, limit: int = 50) -> int:
    """Process messages stored but never processed (the process died in between).

    The listener processes each message right after storing it; one still
    ``pending`` after ``INBOUND_PENDING_AFTER`` seconds was left by a crash.
    Processing is one transaction that only commits if the message was still
    ``pending``, so a race with a slow listener records nothing twice.
    """
    now = now or timezone.now()
    before = now - timedelta(seconds=settings.INBOUND_PENDING_AFTER)
    ids = list(
        InboundMessage.objects.filter(kind=InboundKind.PENDING, received__lt=before)
        .order_by("received", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        inbound = InboundMessage.objects.get(pk=pk)
        try:
            inbound_process(inbound)
        except Exception as exc:
            log.exception("inbound %s could not be processed", pk)
            inbound_transition(
                inbound,
                InboundKind.ERROR,
                reason=f"processing failed: {type(exc).__name__}: {exc}",
                kind=EventKind.INBOUND_FAILED,
            )
    return len(ids)


def _route(inbound: InboundMessage, raw: bytes, c: Classified, match: InboundMatch) -> Routed:
    notice, how = match.notice, match.how
    if c.kind == "bounce" and notice is not None and match.proven:
        # A signed envelope sender names the recipient: the body's addresses do not count.
        failed = [match.recipient] if match.recipient else c.failed_recipients
        hit = notice_bounce(notice, failed, permanent=c.permanent, inbound=inbound, reason=c.reason)
        return Routed(
            InboundKind.BOUNCE,
            f"{c.reason}; for {notice.token} ({how}); bad: {', '.join(hit) or 'none'}",
        )
    if c.kind == "bounce":
        # Anyone can write a bounce: one tied to no signed envelope sender and no
        # Message-ID we sent marks nothing bad; a handler looks at it.
        maybe = f"; it may concern {notice.token} ({how})" if notice is not None else ""
        return Routed(
            InboundKind.UNMATCHED,
            f"{c.reason}; not sent to a signed envelope sender of ours and quotes no "
            f"Message-ID we sent, so no address is marked bad{maybe}",
        )
    if c.kind == "auto_reply":
        if notice is not None:
            reply_record(notice, inbound, human=False)
        return Routed(InboundKind.AUTO_REPLY, c.reason)
    if c.kind == "arf":
        if notice is not None:
            notice_event(
                notice,
                kind=EventKind.NOTICE_COMPLAINT,
                data={"inbound": inbound.pk, "feedback_type": c.feedback_type},
            )
        elif c.feedback_type in {"fraud", "virus"}:
            return to_intake(inbound, raw, c)
        return Routed(InboundKind.ARF, c.reason)
    if notice is not None:
        reply_record(notice, inbound, human=True)
        return Routed(InboundKind.REPLY, f"reply to {notice.token} ({how})")
    if c.report_tokens:
        return _reporter_followup(inbound, c)
    if c.in_reply_to or re.match(r"^\s*(re|aw|sv|antw|返信)\s*[:：]", c.subject, re.IGNORECASE):
        return Routed(
            InboundKind.UNMATCHED,
            "looks like a reply but names no notice of ours: "
            f"In-Reply-To {c.in_reply_to or '-'} is "
            "not a message we sent and the subject has no token",
        )
    if _known_contact(c.from_address):
        return Routed(
            InboundKind.UNMATCHED,
            f"from {c.from_address}, a contact we sent notices to, without a token",
        )
    return to_intake(inbound, raw, c)


def reply_record(notice: Notice, inbound: InboundMessage, *, human: bool) -> None:
    """A reply (or an automatic one) to ``notice``: recorded on its sites.

    A person's reply moves the message and its thread to ``replied``.  A
    reply to an escalation comes from the registrar, CDN or CSIRT, not from
    the organisation: it is recorded on the escalation alone, so the
    organisation's reply rate counts only its own answers.
    """
    root = notice.root
    if notice.kind == NoticeKind.ESCALATION:
        data = {"notice": notice.pk, "thread": root.pk}
    else:
        data = {"notice": root.pk, "message": notice.pk}
    data.update(human=human, inbound=inbound.pk)
    if notice.kind == NoticeKind.ACK or notice.kind == NoticeKind.CLOSED:
        kind = EventKind.REPORTER_REPLIED if human else EventKind.REPORTER_AUTO_REPLY
    else:
        kind = EventKind.NOTICE_REPLIED if human else EventKind.NOTICE_AUTO_REPLY
    fields = {"replied_at": timezone.now()}
    if not human or not notice_transition(
        notice, NoticeState.REPLIED, kind=kind, data=data, fields=fields
    ):
        # An automatic reply, or a second reply: recorded, the state stays.
        notice_event(notice, kind=kind, data=data)
    if human and root.pk != notice.pk and notice.kind != NoticeKind.ESCALATION:
        # The thread is answered too; its sites have the event from the message.
        notice_transition(root, NoticeState.REPLIED, kind=kind, data=data, fields=fields, sites=[])


def _reporter_followup(inbound: InboundMessage, c: Classified) -> Routed:
    report = Report.objects.filter(pk__in=c.report_tokens).first()
    if report is None:
        return Routed(
            InboundKind.UNMATCHED, f"names report token(s) {c.report_tokens} that do not exist"
        )
    event_record(
        kind=EventKind.REPORTER_REPLIED, report=report, data={"inbound": inbound.pk, "human": True}
    )
    return Routed(
        InboundKind.REPLY, f"the reporter wrote about {report.token}; left for a handler", report
    )


_KANA = re.compile(r"[\u3040-\u30ff]")


def to_intake(inbound: InboundMessage, raw: bytes, c: Classified) -> Routed:
    """A new incident report: hand the whole message to intake."""
    language = "ja" if _KANA.search(c.subject + c.text[:5000]) else ""
    name = c.from_header.partition("<")[0].strip().strip('"') or c.from_address
    try:
        # Intake's refusal becomes part of the stored reason, which is English
        # (``web.texts`` says it in the reader's language); a team running with
        # TAKEDOWN_LANGUAGE=ja would otherwise store it half in Japanese.
        with translation.override("en"):
            result = report_receive(
                channel="email",
                raw_mail=raw,
                reporter=ReporterInfo(name=name[:200], email=c.from_address, language=language),
                subject=c.subject,
                message_id=c.message_id,
                received=inbound.received,
            )
    except ReportError as exc:
        return Routed(InboundKind.REPORT, f"new report; intake could not use it: {exc}", exc.report)
    return Routed(
        InboundKind.REPORT,
        f"new report {result.report.token}: {len(result.sites)} site(s)",
        result.report,
    )
