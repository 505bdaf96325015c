"""Signed envelope senders at work: sending one copy per recipient, and reading them back.

The addresses themselves are made and checked in ``bounce_address``; this is
where the outbox uses them (one SMTP transaction per recipient) and where
inbound routing turns one back into a notice and a recipient.
"""

from __future__ import annotations

import smtplib
from typing import Any

from takedown.notices.bounce_address import bounce_address, bounce_domain, signed_bounce_target
from takedown.notices.mime import StoredEmail
from takedown.notices.models import Notice, OutboxMessage


def _code(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 550


def outbox_send(connection: Any, row: OutboxMessage) -> dict[str, Any]:
    """Hand a row to the mail server; return the recipients it refused while taking others.

    With a bounce domain each recipient gets its own transaction whose envelope
    sender names the notice and that recipient, signed (``bounce_address``), so
    a bounce says by construction who failed. Accepted recipients are recorded
    one by one: a retry after a temporary error (a 4xx for one recipient too)
    sends only to the others.
    Without a bounce domain, one transaction from ``from_addr`` as before.
    """
    if not bounce_domain():
        connection.send_messages(
            [StoredEmail(raw=bytes(row.raw), from_addr=row.from_addr, to=list(row.to))]
        )
        return {}
    accepted = list(row.accepted)
    refused: dict[str, Any] = {}
    for rcpt in row.to:
        if rcpt in accepted:
            continue
        sender = bounce_address(notice_id=row.notice_id, recipient=rcpt) or row.from_addr
        try:
            connection.send_messages([StoredEmail(raw=bytes(row.raw), from_addr=sender, to=[rcpt])])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = exc.recipients.get(rcpt, (550, b""))
            if 400 <= _code(code) < 500:
                # Try again later, from this recipient on (the accepted ones are kept).
                raise smtplib.SMTPResponseException(_code(code), reply) from exc
            refused.update(exc.recipients)
            continue
        accepted.append(rcpt)
        OutboxMessage.objects.filter(pk=row.pk).update(accepted=accepted)
    if refused and not accepted:
        raise smtplib.SMTPRecipientsRefused(refused)
    return refused


def signed_notice(addresses: list[str]) -> tuple[Notice, str] | None:
    """The notice and the recipient a signed envelope sender among ``addresses`` names."""
    target = signed_bounce_target(addresses)
    if target is None:
        return None
    notice = Notice.objects.filter(pk=target.notice_id).first()
    if notice is None:
        return None
    sent_to = OutboxMessage.objects.filter(notice=notice).values_list("to", flat=True)
    recipient = target.recipient_in([*notice.recipients, *(a for to in sent_to for a in to)])
    return (notice, recipient) if recipient else None
