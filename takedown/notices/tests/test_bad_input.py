"""Hostile and broken inbound mail through the real listener (aiosmtpd + smtplib).

Each message is stored raw, classified or left for a handler with a reason,
and the listener goes on accepting mail afterwards.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import pytest

from takedown.notices.listener import start_listener
from takedown.notices.models import InboundKind, InboundMessage
from takedown.notices.tests.conftest import free_port, send_raw

pytestmark = pytest.mark.concurrency

PLAIN = (
    b"From: Someone <someone@isp.example>\r\nTo: takedown@csirt.example\r\n"
    b"Subject: phishing\r\n\r\nhxxp://login[.]bank-q[.]example/\r\n"
)


def _still_listening(target: tuple[str, int]) -> None:
    before = InboundMessage.objects.count()
    code, _ = send_raw(target, PLAIN)
    assert code == 250
    assert InboundMessage.objects.count() == before + 1


def _stored(raw: bytes) -> InboundMessage:
    inbound = InboundMessage.objects.order_by("-pk").first()
    assert inbound is not None
    assert bytes(inbound.raw).replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")
    assert inbound.processed is not None
    assert inbound.kind not in {InboundKind.PENDING, InboundKind.ERROR}, inbound.reason
    assert inbound.reason
    return inbound


def test_it_keeps_a_20_mb_mail(listener: tuple[str, int]) -> None:
    line = b"hxxp://filler[.]example/" + b"x" * 70 + b"\r\n"
    body = line * (20 * 1024 * 1024 // len(line))
    raw = PLAIN.replace(b"\r\n\r\n", b"\r\n\r\n", 1) + body
    code, _ = send_raw(listener, raw)
    assert code == 250
    inbound = _stored(raw)
    assert inbound.size >= 20 * 1024 * 1024
    assert inbound.kind == InboundKind.REPORT
    assert "limit" in inbound.reason  # intake keeps it but refuses an oversize report
    _still_listening(listener)


def test_it_refuses_a_mail_over_the_limit_and_goes_on(
    notice_settings: Any, transactional_db: Any
) -> None:
    notice_settings.INBOUND_MAX_BYTES = 64 * 1024
    port = free_port()
    controller, handler = start_listener(host="127.0.0.1", port=port)
    try:
        code, reply = send_raw(("127.0.0.1", port), PLAIN + (b"x" * 998 + b"\r\n") * 200)
        assert code == 552, reply  # the sender's MTA keeps the message and bounces it
        assert InboundMessage.objects.count() == 0
        _still_listening(("127.0.0.1", port))
    finally:
        controller.stop()
        handler.close()


def test_it_keeps_a_mail_with_500_parts(listener: tuple[str, int]) -> None:
    msg = EmailMessage()
    msg["From"] = "someone@isp.example"
    msg["To"] = "takedown@csirt.example"
    msg["Subject"] = "many parts"
    msg.set_content("see the parts")
    for n in range(520):
        msg.add_attachment(
            f"part {n}".encode(),
            maintype="application",
            subtype="octet-stream",
            filename=f"p{n}.bin",
        )
    raw = msg.as_bytes(policy=SMTP)
    assert send_raw(listener, raw)[0] == 250
    inbound = _stored(raw)
    assert inbound.details["parts"] <= 500
    assert any("500" in w for w in inbound.details["warnings"])
    _still_listening(listener)


def test_it_reads_undecodable_charsets(listener: tuple[str, int]) -> None:
    from email.header import Header

    subject = Header("フィッシング", "iso-2022-jp").encode().encode()
    raw = (
        b"From: =?x-no-such-charset?B?/////w==?= <someone@isp.example>\r\n"
        b"To: takedown@csirt.example\r\n"
        b"Subject: " + subject + b" \xff\xfe broken\r\n"
        b'Content-Type: text/plain; charset="x-unknown-8bit-thing"\r\n'
        b"Content-Transfer-Encoding: 8bit\r\n\r\n"
        b"\x82\xa0\x82\xa2 \xff\xfe\xfd hxxp://login[.]bank-w[.]example/\r\n"
    )
    assert send_raw(listener, raw)[0] == 250
    inbound = _stored(raw)
    assert "フィッシング" in inbound.subject
    _still_listening(listener)


def test_it_keeps_a_zip_attachment_unopened(listener: tuple[str, int]) -> None:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("invoice.html", "<form action='http://evil.example/steal'>")
    msg = EmailMessage()
    msg["From"] = "Analyst <analyst@vendor.example>"
    msg["To"] = "takedown@csirt.example"
    msg["Subject"] = "Fwd: phishing kit"
    msg.set_content("Phishing at hxxp://login[.]bank-v[.]example/ - kit attached.")
    msg.add_attachment(buf.getvalue(), maintype="application", subtype="zip", filename="kit.zip")
    raw = msg.as_bytes(policy=SMTP)
    assert send_raw(listener, raw)[0] == 250
    inbound = _stored(raw)
    assert inbound.kind == InboundKind.REPORT
    assert inbound.report is not None
    urls = sorted(s.url for s in inbound.report.sites.all())
    assert urls == ["http://login.bank-v.example/"]  # nothing from inside the zip
    _still_listening(listener)


def test_it_feeds_a_forwarded_phish_to_intake(listener: tuple[str, int]) -> None:
    phish = EmailMessage()
    phish["From"] = "Bank <security@bank-u.example>"
    phish["Subject"] = "Verify your account"
    phish.set_content("Log in at http://login.bank-u.example/verify now")
    wrapper = EmailMessage()
    wrapper["From"] = "Customer <customer@mail.example>"
    wrapper["To"] = "takedown@csirt.example"
    wrapper["Subject"] = "Fwd: Verify your account"
    wrapper.set_content("I got this, is it real?")
    wrapper.add_attachment(phish)
    raw = wrapper.as_bytes(policy=SMTP)
    assert send_raw(listener, raw)[0] == 250
    inbound = _stored(raw)
    assert inbound.kind == InboundKind.REPORT
    assert inbound.report is not None
    assert [s.url for s in inbound.report.sites.all()] == ["http://login.bank-u.example/verify"]
    reporter = inbound.report.reporter
    assert reporter is not None and reporter.email == "customer@mail.example"


def test_it_keeps_a_mail_nested_deeper_than_the_parser_goes(listener: tuple[str, int]) -> None:
    # Hundreds of message/rfc822 layers: the stdlib parser recurses per layer.
    inner = PLAIN
    for _ in range(300):
        inner = (
            b"From: Someone <someone@isp.example>\r\nSubject: fwd\r\n"
            b"Content-Type: message/rfc822\r\n\r\n" + inner
        )
    raw = b"To: takedown@csirt.example\r\n" + inner
    assert send_raw(listener, raw)[0] == 250
    _stored(raw)
    _still_listening(listener)


def test_it_keeps_a_mail_with_broken_base64_and_a_lying_charset(listener: tuple[str, int]) -> None:
    raw = (
        b"From: Someone <someone@isp.example>\r\nTo: takedown@csirt.example\r\n"
        b"Subject: =?x-no-such-charset?B?!!!notbase64?=\r\n"
        b"Content-Type: text/plain; charset=utf-7\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"@@@@ this is not base64 ====\r\n\xff\xfe\r\n"
    )
    assert send_raw(listener, raw)[0] == 250
    _stored(raw)
    _still_listening(listener)
