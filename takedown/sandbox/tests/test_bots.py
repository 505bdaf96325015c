from __future__ import annotations

import email
import email.policy
import json
import smtplib
import threading
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from takedown.sandbox.core import Sandbox
from takedown.sandbox.runner import free_port
from takedown.sandbox.tests.small import SMALL

pytestmark = pytest.mark.concurrency


class Inbox:
    """The service's inbound listener, played by a real aiosmtpd server."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=email.policy.default
        )
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def small(sandbox_factory: Callable[..., Sandbox], inbox: tuple[Inbox, int]) -> Sandbox:
    return sandbox_factory(SMALL, inbound=("127.0.0.1", inbox[1]))


def notice(
    sb: Sandbox,
    to: list[str],
    body: str,
    *,
    msgid: str = "<n1@takedown.example>",
    subject: str = "[TKD-0001] Phishing site on your network",
    attach: dict[str, Any] | None = None,
) -> None:
    msg = EmailMessage()
    msg["From"] = "Takedown CSIRT <notices@takedown.example>"
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Message-ID"] = msgid
    msg.set_content(body)
    if attach is not None:
        msg.add_attachment(
            json.dumps(attach).encode(),
            maintype="application",
            subtype="json",
            filename="xarf.json",
        )
    with smtplib.SMTP("127.0.0.1", sb.smtp_port, timeout=5) as client:
        client.send_message(msg, from_addr="bounces+tkd0001@takedown.example", to_addrs=to)


def test_it_keeps_what_the_service_sends(small: Sandbox) -> None:
    with smtplib.SMTP("127.0.0.1", small.smtp_port, timeout=5) as client:
        client.login("user", "whatever")  # the relay takes any credentials, like a smarthost
        client.sendmail(
            "notices@takedown.example",
            ["soc@reporter.example"],
            b"Subject: closed\r\n\r\nThe site is down.\r\n",
        )
    small.wait_until(lambda: small.outbox)
    assert small.outbox[0].rcpt_tos == ["soc@reporter.example"]
    assert small.reporter_mail["soc@reporter.example"][0].subject == "closed"
    assert not small.notices


def test_it_replies_in_thread_and_takes_the_site_down(
    small: Sandbox, inbox: tuple[Inbox, int]
) -> None:
    handler, _ = inbox
    notice(small, ["abuse@jp-isp.example"], "Please remove hxxps://login.bank[.]example/jp/ today.")
    small.wait_until(lambda: small.site_status("jp1") == "down", timeout=30)
    small.wait_until(lambda: handler.messages, timeout=30)
    mail_from, rcpts, reply = handler.messages[0]
    assert rcpts == ["notices@takedown.example"]
    assert mail_from == "abuse@jp-isp.example"
    assert reply["Subject"] == "Re: [TKD-0001] Phishing site on your network"
    assert reply["In-Reply-To"] == "<n1@takedown.example>"
    assert "<n1@takedown.example>" in reply["References"]
    assert small.notices[0]["sites"] == ["jp1"]
    # revive_after: it comes back once
    small.wait_until(lambda: small.site_status("jp1") == "up", timeout=30)
    assert small.site("jp1").revivals == 1


def test_it_bounces_only_the_abuse_address(small: Sandbox, inbox: tuple[Inbox, int]) -> None:
    handler, _ = inbox
    notice(small, ["abuse@br-net.example", "noc@br-net.example"], "hxxp://secure.card[.]example/")
    small.wait_until(lambda: len(handler.messages) >= 2, timeout=30)
    dsn = next(m for f, r, m in handler.messages if m.get_content_type() == "multipart/report")
    mail_from, rcpts, _ = next(x for x in handler.messages if x[2] is dsn)
    assert mail_from in ("", "<>") and rcpts == ["bounces+tkd0001@takedown.example"]
    assert dsn.get_param("report-type") == "delivery-status"
    parts = [p.get_content_type() for p in dsn.iter_parts()]
    assert parts == ["text/plain", "message/delivery-status", "text/rfc822-headers"]
    report_parts = list(dsn.iter_parts())
    status = report_parts[1].as_string()
    assert "Final-Recipient: rfc822; abuse@br-net.example" in status
    assert "Action: failed" in status and "Status: 5.1.1" in status
    assert "[TKD-0001]" in report_parts[2].as_string()
    # noc@ reached a person, who acts (nxdomain takedown) and replies
    small.wait_until(lambda: small.site_status("br1") == "down", timeout=30)
    assert any(m["Subject"].startswith("Re: ") for _, _, m in handler.messages)


def test_it_does_nothing_when_only_the_bouncing_address_was_used(
    small: Sandbox, inbox: tuple[Inbox, int]
) -> None:
    handler, _ = inbox
    notice(small, ["abuse@br-net.example"], "hxxp://secure.card[.]example/")
    small.wait_until(lambda: handler.messages, timeout=30)
    import time

    time.sleep(0.6)
    assert [m.get_content_type() for _, _, m in handler.messages] == ["multipart/report"]
    assert small.site_status("br1") == "up"


def test_it_auto_replies_per_rfc3834(small: Sandbox, inbox: tuple[Inbox, int]) -> None:
    handler, _ = inbox
    notice(
        small,
        ["noc@us-cloud.example"],
        "X-ARF attached.",
        attach={"Source": "http://pay.shop.example/", "Category": "fraud"},
    )
    small.wait_until(lambda: handler.messages, timeout=30)
    mail_from, rcpts, auto = handler.messages[0]
    assert auto["Auto-Submitted"] == "auto-replied"
    assert mail_from in ("", "<>") and rcpts == ["bounces+tkd0001@takedown.example"]
    assert "[TKD-0001]" in auto["Subject"] and auto["In-Reply-To"] == "<n1@takedown.example>"
    # the X-ARF attachment named the site: refused takedown after 0.3 s, no reply (never)
    small.wait_until(lambda: small.site_status("us1") == "down", timeout=30)
    assert len(handler.messages) == 1


def test_it_acts_once_per_message_and_only_on_its_own_sites(small: Sandbox) -> None:
    notice(
        small,
        ["abuse@de-host.example", "noc@de-host.example"],
        "hxxp://id.mail[.]example/login/ and hxxp://pay.shop[.]example/",
    )
    small.wait_until(lambda: small.notices, timeout=30)
    assert small.notices[0]["sites"] == ["de1"]
    assert len(small.bots.decisions) == 1


def test_its_sometimes_is_reproducible(sandbox_factory: Callable[..., Sandbox]) -> None:
    runs = []
    for _ in range(2):
        sb = sandbox_factory(SMALL)
        for i in range(8):
            notice(
                sb,
                ["abuse@de-host.example"],
                "hxxp://id.mail[.]example/login/",
                msgid=f"<n{i}@takedown.example>",
            )
        bots = sb.bots
        sb.wait_until(lambda: len(bots.decisions) == 8, timeout=30)  # noqa: B023
        runs.append([d["reply"] for d in sb.bots.decisions])
    assert runs[0] == runs[1]
    assert True in runs[0] and False in runs[0]


def test_a_url_names_only_its_own_path(sandbox_factory: Callable[..., Sandbox]) -> None:
    sb = sandbox_factory(
        SMALL.replace(
            "  - {id: us1,",
            '  - {id: us2, url: "http://pay.shop.example/other/", ip: 127.12.0.1}\n  - {id: us1,',
        )
    )
    notice(sb, ["abuse@us-cloud.example"], "hxxp://pay.shop[.]example/other/")
    sb.wait_until(lambda: sb.notices, timeout=30)
    assert sb.notices[0]["sites"] == ["us2"]
    notice(sb, ["abuse@us-cloud.example"], "pay.shop.example hosts phishing", msgid="<n2@x>")
    sb.wait_until(lambda: len(sb.notices) == 2, timeout=30)
    assert sorted(sb.notices[1]["sites"]) == ["us1", "us2"]
