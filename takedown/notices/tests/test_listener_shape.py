"""Inbound mail is never refused for its shape, only for its size (real listener, smtplib).

RFC 5321 caps a line at 1,000 octets; phishing, bounces and one-line HTML
break that rule, and a refusal would lose the message. Each test checks the
stored raw bytes are exactly what was sent and that the message was then
processed (or recorded as an error), and that the listener goes on.
"""

from __future__ import annotations

import smtplib
from typing import Any

import pytest

from takedown.notices.listener import start_listener
from takedown.notices.models import InboundKind, InboundMessage
from takedown.notices.tests.conftest import free_port, send_raw

pytestmark = pytest.mark.concurrency

HEAD = b"From: Someone <someone@isp.example>\r\nTo: takedown@csirt.example\r\n"
PLAIN = HEAD + b"Subject: phishing\r\n\r\nhxxp://login[.]bank-q[.]example/\r\n"


def _stored_exactly(raw: bytes) -> InboundMessage:
    inbound = InboundMessage.objects.order_by("-pk").first()
    assert inbound is not None
    assert bytes(inbound.raw) == raw
    assert inbound.size == len(raw)
    assert inbound.processed is not None or inbound.kind == InboundKind.ERROR
    assert inbound.kind != InboundKind.PENDING
    assert inbound.reason
    return inbound


def _still_listening(target: tuple[str, int]) -> None:
    before = InboundMessage.objects.count()
    assert send_raw(target, PLAIN)[0] == 250
    assert InboundMessage.objects.count() == before + 1


def test_it_keeps_a_body_line_of_100_000_characters(listener: tuple[str, int]) -> None:
    # One-line HTML, as bulk mailers and phishing kits write it; the link is at the end.
    line = b"<p>" + b"<span style='display:none'>x</span>" * 3000 + b"</p>"
    line += b"<a href='http://login.bank-s.example/verify'>log in</a>"
    raw = HEAD + b"Subject: one line\r\nContent-Type: text/html\r\n\r\n" + line + b"\r\n"
    assert len(line) > 100_000
    code, reply = send_raw(listener, raw)
    assert code == 250, reply
    inbound = _stored_exactly(raw)
    assert inbound.kind == InboundKind.REPORT
    assert inbound.report is not None
    assert [s.url for s in inbound.report.sites.all()] == ["http://login.bank-s.example/verify"]
    _still_listening(listener)


def test_it_keeps_a_mail_with_a_1_mb_subject(listener: tuple[str, int]) -> None:
    subject = b"Subject: " + b"A" * (1024 * 1024) + b"\r\n"
    raw = HEAD + subject + b"\r\nhxxp://login[.]bank-t[.]example/\r\n"
    code, reply = send_raw(listener, raw)
    assert code == 250, reply
    inbound = _stored_exactly(raw)
    assert len(inbound.subject) <= 500
    _still_listening(listener)


def test_it_keeps_a_line_that_starts_with_a_dot_and_runs_long(listener: tuple[str, int]) -> None:
    # smtplib doubles the leading dot (transparency); the listener must undo it.
    raw = PLAIN + b"." + b"z" * 5000 + b"\r\n..\r\n"
    assert send_raw(listener, raw)[0] == 250
    _stored_exactly(raw)


def _send(target: tuple[str, int], raw: bytes, *, lmtp: bool) -> tuple[int, bytes]:
    if not lmtp:
        return send_raw(target, raw)
    with smtplib.LMTP(*target, timeout=60) as client:
        client.ehlo("mx.isp.example")  # LMTP's LHLO
        client.mail("someone@isp.example")
        client.rcpt("takedown@csirt.example")
        return client.data(raw)


@pytest.mark.parametrize("lmtp", [False, True])
def test_it_refuses_only_for_size_even_when_one_line_is_the_whole_excess(
    notice_settings: Any, transactional_db: Any, lmtp: bool
) -> None:
    notice_settings.INBOUND_MAX_BYTES = 64 * 1024
    port = free_port()
    controller, handler = start_listener(host="127.0.0.1", port=port, lmtp=lmtp)
    target = ("127.0.0.1", port)
    try:
        fits = HEAD + b"Subject: " + b"B" * 60_000 + b"\r\n\r\nbody\r\n"
        too_big = HEAD + b"Subject: x\r\n\r\n" + b"C" * 200_000 + b"\r\n"
        assert _send(target, fits, lmtp=lmtp)[0] == 250
        code, reply = _send(target, too_big, lmtp=lmtp)
        assert code == 552, reply  # the size limit, not "line too long"
        assert InboundMessage.objects.count() == 1
        _stored_exactly(fits)
        assert _send(target, PLAIN, lmtp=lmtp)[0] == 250  # still listening
        assert InboundMessage.objects.count() == 2
    finally:
        controller.stop()
        handler.close()
