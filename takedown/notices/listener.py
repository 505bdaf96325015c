"""Inbound mail: the SMTP/LMTP listener an MTA hands mail to, and the IMAP poller.

Both hand each message to ``inbound.inbound_receive`` (the one inbound path),
which stores it raw first, then classifies and routes it, in a worker thread,
so a slow database or a hostile message never blocks the SMTP conversation of
the next one.  A message is accepted (250) only once it is stored; when the
store fails the sender gets a temporary error (451) and its MTA keeps the
message and retries, so nothing is lost.  Oversize messages are refused with
552; nothing else about a message's shape is (see ``_InboundSMTP``).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, AnyStr
from urllib.parse import unquote, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import close_old_connections

from takedown.notices.inbound import inbound_receive
from takedown.notices.models import InboundMessage

log = logging.getLogger(__name__)


def _store_and_process(
    raw: bytes, source: str, peer: str, mail_from: str, rcpt_to: list[str]
) -> int:
    """Runs in a worker thread with its own database connection.

    Raises only when the message could not be stored (the caller answers
    "451"); a processing error is recorded on the stored message.
    """
    close_old_connections()
    try:
        inbound = inbound_receive(
            raw, source=source, peer=peer, mail_from=mail_from, rcpt_to=rcpt_to
        )
        return int(inbound.pk)
    finally:
        close_old_connections()


class InboundHandler:
    def __init__(self, *, source: str = "smtp", workers: int = 2) -> None:
        self.source = source
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inbound")
        self.received = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode("utf-8", "surrogateescape")
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer or "")
        loop = asyncio.get_running_loop()
        try:
            pk = await loop.run_in_executor(
                self.executor,
                _store_and_process,
                raw,
                self.source,
                peer,
                envelope.mail_from or "",
                list(envelope.rcpt_tos),
            )
        except Exception:
            log.exception("inbound message from %s could not be stored", peer)
            return "451 4.3.0 Temporary failure storing the message, try again later"
        self.received += 1
        return f"250 2.0.0 OK stored as {pk}"

    def close(self) -> None:
        self.executor.shutdown(wait=True)


class _InboundSMTP(SMTP):
    """Accept lines of any length up to the message size limit.

    aiosmtpd refuses a message with a line over 1,000 octets (RFC 5321
    4.5.3.1.6) with a permanent 500, and the message is then lost: the sending
    MTA bounces it. Phishing and bounces break that rule routinely (one-line
    HTML, a 1 MB Subject), and we must keep them raw. The limit is both the
    stream reader's line limit (fixed when the protocol is built) and the check
    in DATA, so it is raised to just above the size limit: memory per
    connection stays bounded by the size limit, as it already was for DATA.
    """

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        limit = kwargs.get("data_size_limit") or settings.INBOUND_MAX_BYTES
        # + CRLF and the transparent dot; a longer line is over the size limit anyway.
        self.line_length_limit = limit + 3
        super().__init__(handler, **kwargs)

    async def push(self, status: AnyStr) -> None:
        # A line can be too long only when the message is over the size limit:
        # say so, as for any oversize message.
        if isinstance(status, str) and status.startswith("500 Line too long"):
            await super().push("552 Error: Too much mail data")
        else:
            await super().push(status)


class _InboundLMTP(_InboundSMTP, LMTP):
    pass


class InboundController(Controller):
    """aiosmtpd's threaded controller, speaking SMTP or LMTP (RFC 2033)."""

    def __init__(
        self, handler: InboundHandler, *, hostname: str, port: int, lmtp: bool = False
    ) -> None:
        self.lmtp = lmtp
        super().__init__(
            handler,
            hostname=hostname,
            port=port,
            ready_timeout=10.0,
            data_size_limit=settings.INBOUND_MAX_BYTES,
            enable_SMTPUTF8=True,
            decode_data=False,
            ident="Takedown inbound",
        )

    def factory(self) -> SMTP:
        if self.lmtp:
            return _InboundLMTP(self.handler, **self.SMTP_kwargs)
        return _InboundSMTP(self.handler, **self.SMTP_kwargs)


def start_listener(
    *, host: str, port: int, lmtp: bool = False
) -> tuple[InboundController, InboundHandler]:
    handler = InboundHandler(source="lmtp" if lmtp else "smtp")
    controller = InboundController(handler, hostname=host, port=port, lmtp=lmtp)
    controller.start()
    return controller, handler


# --- IMAP ---------------------------------------------------------------------------


class ImapPoller:
    """Fetch unseen messages from a mailbox, store them, then mark them seen.

    A message is marked \\Seen only after it is stored, and stored messages
    are recognised by their SHA-256, so a crash between the two never loses a
    message and never processes it twice.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"imap", "imaps"} or not parts.hostname:
            raise ValueError(f"IMAP URL {url!r} is not imap:// or imaps://")
        self.host = parts.hostname
        self.ssl = parts.scheme == "imaps"
        self.port = parts.port or (993 if self.ssl else 143)
        self.user = unquote(parts.username or "")
        self.password = unquote(parts.password or "")
        self.folder = unquote(parts.path.lstrip("/")) or "INBOX"

    def poll(self, *, batch: int = 50) -> int:
        from imapclient import IMAPClient

        close_old_connections()
        stored = 0
        context = ssl.create_default_context() if self.ssl else None
        with IMAPClient(
            self.host, port=self.port, ssl=self.ssl, ssl_context=context, timeout=30
        ) as client:
            client.login(self.user, self.password)
            client.select_folder(self.folder)
            uids = client.search(["UNSEEN"])[:batch]
            for uid in uids:
                fetched = client.fetch([uid], ["BODY.PEEK[]"])
                raw = fetched.get(uid, {}).get(b"BODY[]")
                if not isinstance(raw, bytes):
                    continue
                if not InboundMessage.objects.filter(
                    sha256=InboundMessage.digest(raw), source="imap"
                ).exists():
                    if len(raw) > settings.INBOUND_MAX_BYTES:
                        log.warning(
                            "IMAP message %s is %d bytes; stored, not processed", uid, len(raw)
                        )
                    _store_and_process(raw, "imap", self.host, "", [])
                    stored += 1
                client.add_flags([uid], [b"\\Seen"])
        close_old_connections()
        return stored


def run_imap_poller(poller: ImapPoller, stop: threading.Event, interval: float) -> None:
    while not stop.is_set():
        try:
            poller.poll()
        except Exception as exc:
            log.warning("IMAP poll of %s failed: %s", poller.host, exc)
        stop.wait(interval)


def configured_poller() -> Any:
    return ImapPoller(settings.IMAP_URL) if settings.IMAP_URL else None
