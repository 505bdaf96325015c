"""Fixtures for the notices tests: a real SMTP server to send to, organisations, sites."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from takedown.cases.models import EventKind, Site, SiteState
from takedown.cases.services import site_transition, sites_create_bulk
from takedown.locate.models import Organization


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg

    @property
    def text(self) -> str:
        msg = self.message
        part = msg.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())


@dataclass
class SinkHandler:
    """Accepts everything, or answers with a configured failure."""

    messages: list[Received] = field(default_factory=list)
    reject_rcpt: dict[str, str] = field(default_factory=dict)  # address -> "550 ..." reply
    data_reply: str = ""  # e.g. "451 try later"
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.reject_rcpt.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        raw = envelope.original_content or b""
        with self.lock:
            self.messages.append(Received(envelope.mail_from or "", list(envelope.rcpt_tos), raw))
        return "250 OK queued"


@dataclass
class SmtpSink:
    handler: SinkHandler
    host: str
    port: int
    controller: Controller

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def stop(self) -> None:
        self.controller.stop()


def start_sink(port: int | None = None) -> SmtpSink:
    handler = SinkHandler()
    port = port or free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return SmtpSink(handler, "127.0.0.1", port, controller)


@pytest.fixture
def notice_settings(settings: Any) -> Any:
    settings.NOTICE_BATCH_WINDOW = 0
    settings.NOTICE_RENOTIFY_AFTER = "1h"
    settings.NOTICE_MAX_FOLLOWUPS = 2
    settings.NOTICE_ESCALATE = True
    settings.NOTICE_RETRY_BASE = 30
    settings.NOTICE_RETRY_MAX = 3600
    settings.NOTICE_FROM = "takedown@csirt.example"
    settings.TEAM_EMAIL = "takedown@csirt.example"
    settings.TEAM_NAME = "Example CSIRT"
    settings.NOTICE_GPG_KEY = ""
    return settings


@pytest.fixture
def smtp(notice_settings: Any) -> Iterator[SmtpSink]:
    """A real aiosmtpd server on loopback; Django's SMTP backend sends to it."""
    sink = start_sink()
    notice_settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    notice_settings.EMAIL_HOST = sink.host
    notice_settings.EMAIL_PORT = sink.port
    notice_settings.EMAIL_USE_TLS = False
    notice_settings.EMAIL_USE_SSL = False
    notice_settings.EMAIL_HOST_USER = ""
    notice_settings.EMAIL_HOST_PASSWORD = ""
    notice_settings.EMAIL_TIMEOUT = 5
    yield sink
    sink.stop()


def make_org(
    name: str = "Example Net A", *, country: str = "JP", abuse: list[str] | None = None, **kw: Any
) -> Organization:
    return Organization.objects.create(
        name=name,
        country=country,
        kind=kw.pop("kind", "isp"),
        abuse_emails=abuse
        if abuse is not None
        else [f"abuse@{name.lower().replace(' ', '-')}.example"],
        **kw,
    )


def make_site(
    url: str,
    org: Organization | None,
    *,
    ip: str = "192.0.2.10",
    brand: str = "Example Bank",
    kind: str = "phishing",
    state: str = SiteState.LOCATED,
) -> Site:
    """A site as the locate step leaves it (through the real write path)."""
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    site = sites_create_bulk(
        [{"url": url, "host": host, "registered_domain": host, "kind": kind, "brand": brand}]
    )[url]
    site.ip = ip
    site.organization = org
    site_transition(
        site, SiteState.LOCATED, kind=EventKind.LOCATE_DONE, update_fields=["ip", "organization"]
    )
    if state == SiteState.NOTIFIED:
        site_transition(site, SiteState.NOTIFIED, kind=EventKind.NOTICE_SENT)
    site.refresh_from_db()
    return site


def confirm_down(site: Site) -> None:
    """What the monitor does when a takedown is confirmed."""
    site_transition(site, SiteState.DOWN, kind=EventKind.SITE_DOWN)


@pytest.fixture
def listener(notice_settings: Any, transactional_db: Any) -> Iterator[tuple[str, int]]:
    """The real inbound listener on a free loopback port."""
    from takedown.notices.listener import start_listener

    port = free_port()
    controller, handler = start_listener(host="127.0.0.1", port=port)
    yield ("127.0.0.1", port)
    controller.stop()
    handler.close()


def send_raw(
    target: tuple[str, int],
    raw: bytes,
    *,
    mail_from: str = "someone@isp.example",
    rcpt: str = "takedown@csirt.example",
) -> tuple[int, bytes]:
    """Hand ``raw`` to the listener with smtplib; return the DATA reply."""
    import smtplib

    with smtplib.SMTP(target[0], target[1], timeout=60) as client:
        client.ehlo("mx.isp.example")
        client.mail(mail_from)
        client.rcpt(rcpt)
        return client.data(raw)


from takedown.sandbox.testing import sandbox_factory  # noqa: E402, F401
