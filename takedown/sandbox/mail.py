"""The sandbox's mail: the relay that receives the service's outgoing mail, the
messages the organisations' mail systems send back, and the delivery of those to
the service's inbound listener.

The relay (aiosmtpd) accepts everything the service sends, keeps it in
``outbox``, and hands it to the bots. What comes back (replies, bounces,
auto-replies) is built here as a real MTA or mail client would write it.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import re
import smtplib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, getaddresses, make_msgid
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

log = logging.getLogger(__name__)

RELAY_HOSTNAME = "relay.sandbox.example"
MAX_MESSAGE = 32 * 1024 * 1024


@dataclass
class StoredMessage:
    at: float
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    kind: str = "outbound"  # outbound | reply | bounce | auto-reply | report
    org: str | None = None
    delivered: bool | None = None
    _parsed: EmailMessage | None = field(default=None, repr=False)

    @property
    def message(self) -> EmailMessage:
        if self._parsed is None:
            parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self._parsed = parsed
        return self._parsed

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def message_id(self) -> str:
        return str(self.message.get("Message-ID", "")).strip()

    def text(self) -> str:
        """All readable text of the message: text parts, JSON/YAML attachments, nested mail."""
        return "\n".join(_texts(self.message))

    def header_addresses(self) -> list[str]:
        fields = self.message.get_all("To", []) + self.message.get_all("Cc", [])
        return [a.lower() for _, a in getaddresses([str(f) for f in fields]) if a]


def _texts(msg: email.message.Message) -> list[str]:
    out: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if ctype.startswith("text/") or ctype in (
            "application/json",
            "application/yaml",
            "application/x-yaml",
            "message/delivery-status",
        ):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                charset = part.get_content_charset() or "utf-8"
                try:
                    out.append(payload.decode(charset, errors="replace"))
                except LookupError:
                    out.append(payload.decode("utf-8", errors="replace"))
    return out


class _Handler:
    def __init__(
        self, on_message: Callable[[StoredMessage], Awaitable[None]], clock: Callable[[], float]
    ) -> None:
        self.on_message = on_message
        self.clock = clock
        # Cleared by ``Sandbox.hold_replies``: a message is recorded and handed
        # to the bots, but its "250" waits, as a slow server's would.  Fault
        # tests kill the sender in that window.
        self.replying = asyncio.Event()
        self.replying.set()
        self.holding = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode("utf-8", "surrogateescape")
        stored = StoredMessage(
            at=round(self.clock(), 3),
            mail_from="" if envelope.mail_from in (None, "<>") else envelope.mail_from,
            rcpt_tos=[r.lower() for r in envelope.rcpt_tos],
            raw=raw,
        )
        try:
            await self.on_message(stored)
        except Exception:
            log.exception("sandbox mail handling failed")
        if not self.replying.is_set():
            self.holding += 1
            try:
                await self.replying.wait()
            finally:
                self.holding -= 1
        return "250 2.0.0 Ok: queued as " + uuid.uuid4().hex[:10].upper()


def _accept_any(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    # The relay trusts the service under test, whatever credentials it is configured with.
    del server, session, envelope, mechanism
    login = auth_data.login if isinstance(auth_data, LoginPassword) else b""
    return AuthResult(success=True, auth_data=login)


class SmtpRelay:
    """The service's outgoing SMTP relay (``TAKEDOWN_SMTP_URL``)."""

    def __init__(
        self, on_message: Callable[[StoredMessage], Awaitable[None]], clock: Callable[[], float]
    ) -> None:
        self.handler = _Handler(on_message, clock)
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self, port: int = 0) -> None:
        loop = asyncio.get_running_loop()

        def factory() -> SMTP:
            return SMTP(
                self.handler,
                hostname=RELAY_HOSTNAME,
                data_size_limit=MAX_MESSAGE,
                enable_SMTPUTF8=True,
                decode_data=False,
                auth_require_tls=False,
                authenticator=_accept_any,
                ident="Sandbox ESMTP",
            )

        self._server = await loop.create_server(factory, self.host, port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


# --- delivery to the service ------------------------------------------------------


def smtp_send(
    host: str, port: int, mail_from: str, rcpt_tos: list[str], raw: bytes, timeout: float = 10
) -> None:
    with smtplib.SMTP(host, port, timeout=timeout) as client:
        client.ehlo("mx.sandbox.example")
        client.sendmail(mail_from, rcpt_tos, raw)


async def deliver(
    target: tuple[str, int] | None,
    message: StoredMessage,
    *,
    attempts: int = 6,
) -> bool:
    """Hand a message to the service's inbound listener, retrying as an MTA's queue would."""
    if target is None:
        message.delivered = False
        return False
    loop = asyncio.get_running_loop()
    delay = 0.5
    for attempt in range(attempts):
        try:
            await loop.run_in_executor(
                None,
                smtp_send,
                target[0],
                target[1],
                message.mail_from,
                message.rcpt_tos,
                message.raw,
            )
            message.delivered = True
            return True
        except (OSError, smtplib.SMTPException) as exc:
            log.info(
                "sandbox: delivery to %s:%s failed (%s), attempt %d", *target, exc, attempt + 1
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5)
    message.delivered = False
    return False


# --- messages the organisations send ----------------------------------------------


def _aware_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def reply_subject(subject: str) -> str:
    return subject if re.match(r"(?i)^\s*re\s*:", subject) else f"Re: {subject}"


def _references(original: EmailMessage) -> tuple[str, str]:
    msgid = str(original.get("Message-ID", "")).strip()
    refs = " ".join(str(original.get("References", "")).split())
    chain = f"{refs} {msgid}".strip()
    return msgid, chain


def build_reply(
    original: EmailMessage,
    *,
    from_name: str,
    from_addr: str,
    to_addr: str,
    body: str,
    domain: str,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = formataddr((from_name, from_addr))
    msg["To"] = to_addr
    msg["Subject"] = reply_subject(str(original.get("Subject", "")))
    msg["Date"] = format_datetime(_aware_now())
    msg["Message-ID"] = make_msgid(domain=domain)
    msgid, chain = _references(original)
    if msgid:
        msg["In-Reply-To"] = msgid
        msg["References"] = chain
    msg.set_content(body)
    return msg.as_bytes(policy=email.policy.SMTP)


def build_auto_reply(
    original: EmailMessage,
    *,
    from_name: str,
    from_addr: str,
    to_addr: str,
    ticket: str,
    domain: str,
) -> bytes:
    """An RFC 3834 auto-reply, as a ticket system at an abuse desk sends it."""
    msg = EmailMessage()
    msg["From"] = formataddr((from_name, from_addr))
    msg["To"] = to_addr
    msg["Subject"] = f"[{ticket}] Auto: {original.get('Subject', '')}"
    msg["Date"] = format_datetime(_aware_now())
    msg["Message-ID"] = make_msgid(domain=domain)
    msgid, chain = _references(original)
    if msgid:
        msg["In-Reply-To"] = msgid
        msg["References"] = chain
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(
        "This is an automatic reply. Please do not reply to this message.\n\n"
        f"Your message has been received and registered as {ticket}.\n"
        "Our abuse team will review it; we may not send any further reply.\n"
    )
    return msg.as_bytes(policy=email.policy.SMTP)


def build_dsn(
    original_raw: bytes,
    *,
    envelope_from: str,
    failed_rcpt: str,
    remote_mta: str,
    arrival: Any,
) -> bytes:
    """A Postfix-style RFC 3464 delivery status notification (multipart/report)."""
    queue_id = uuid.uuid4().hex[:11].upper()
    boundary = f"{queue_id}.{int(time.time())}/{RELAY_HOSTNAME}"
    date = format_datetime(_aware_now())
    diag = f"550 5.1.1 <{failed_rcpt}>: Recipient address rejected: User unknown in virtual mailbox table"  # noqa: E501 - copied server text
    headers_end = original_raw.find(b"\r\n\r\n")
    if headers_end < 0:
        headers_end = original_raw.find(b"\n\n")
    original_headers = original_raw if headers_end < 0 else original_raw[:headers_end]
    parts = [
        f"Date: {date}",
        f"From: MAILER-DAEMON@{RELAY_HOSTNAME} (Mail Delivery System)",
        "Subject: Undelivered Mail Returned to Sender",
        f"To: {envelope_from}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        "Content-Type: multipart/report; report-type=delivery-status;",
        f'\tboundary="{boundary}"',
        "Content-Transfer-Encoding: 8bit",
        f"Message-Id: <{time.strftime('%Y%m%d%H%M%S')}.{queue_id}@{RELAY_HOSTNAME}>",
        "",
        "This is a MIME-encapsulated message.",
        "",
        f"--{boundary}",
        "Content-Description: Notification",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        f"This is the mail system at host {RELAY_HOSTNAME}.",
        "",
        "I'm sorry to have to inform you that your message could not",
        "be delivered to one or more recipients. It's attached below.",
        "",
        "For further assistance, please send mail to postmaster.",
        "",
        "If you do so, please include this problem report. You can",
        "delete your own text from the attached returned message.",
        "",
        "                   The mail system",
        "",
        f"<{failed_rcpt}>: host {remote_mta}[127.0.0.1] said: {diag} (in reply to RCPT TO command)",
        "",
        f"--{boundary}",
        "Content-Description: Delivery report",
        "Content-Type: message/delivery-status",
        "",
        f"Reporting-MTA: dns; {RELAY_HOSTNAME}",
        f"X-Postfix-Queue-ID: {queue_id}",
        f"X-Postfix-Sender: rfc822; {envelope_from}",
        f"Arrival-Date: {format_datetime(arrival)}",
        "",
        f"Final-Recipient: rfc822; {failed_rcpt}",
        f"Original-Recipient: rfc822;{failed_rcpt}",
        "Action: failed",
        "Status: 5.1.1",
        f"Remote-MTA: dns; {remote_mta}",
        f"Diagnostic-Code: smtp; {diag}",
        "",
        f"--{boundary}",
        "Content-Description: Undelivered Message Headers",
        "Content-Type: text/rfc822-headers",
        "",
    ]
    head = "\r\n".join(parts).encode("utf-8") + b"\r\n"
    body = original_headers.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return head + body + f"\r\n\r\n--{boundary}--\r\n".encode()
