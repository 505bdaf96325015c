from __future__ import annotations

import email
import email.policy
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth.models import User

from takedown.intake.models import Report as StoredReport
from takedown.lib.waiting import wait_until
from takedown.sandbox.reporters import (
    ApiChannel,
    CliChannel,
    EmailChannel,
    FormChannel,
    ReportFeeder,
    ServiceEndpoints,
)
from takedown.sandbox.runner import free_port
from takedown.sandbox.scenario import Report, Reporter
from takedown.web.models import ApiToken

pytestmark = pytest.mark.concurrency

REPORTER = Reporter(name="Bank SOC", email="soc@bank.example", type="financial", country="JP")


def report(index: int = 0, at: float = 0, channel: str = "api") -> Report:
    return Report(
        index, at, channel, REPORTER, f"Phishing: hxxp://login{index}.bank[.]example/jp/", "Phish"
    )


class Intake:
    def __init__(self) -> None:
        self.messages: list[tuple[float, str, list[str], Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((time.monotonic(), envelope.mail_from, envelope.rcpt_tos, msg))
        return "250 OK"


@pytest.fixture
def intake() -> Iterator[tuple[Intake, int]]:
    handler, port = Intake(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_it_posts_to_the_api_with_a_bearer_token(live_server: Any, alice: User) -> None:
    _, token = ApiToken.issue(user=alice, name="sandbox")
    channel = ApiChannel(ServiceEndpoints(base_url=live_server.url, api_token=token))
    result = channel.deliver(report(1))
    assert result.ok, result.detail
    assert json.loads(result.detail)["sites"][0]["url"] == "http://login1.bank.example/jp/"
    stored = StoredReport.objects.get()
    assert stored.channel == "api"


def test_it_reports_a_refused_token(live_server: Any, db: Any) -> None:
    channel = ApiChannel(ServiceEndpoints(base_url=live_server.url, api_token="tkd_wrong"))
    result = channel.deliver(report(1))
    assert not result.ok and "401" in result.detail


def test_it_logs_in_and_posts_the_web_form(live_server: Any, alice: User) -> None:
    channel = FormChannel(
        ServiceEndpoints(
            base_url=live_server.url, username="alice", password="correct horse battery"
        )
    )
    result = channel.deliver(report(2, channel="form"))
    assert result.ok, result.detail
    stored = StoredReport.objects.get()
    assert stored.channel == "form"


def test_it_mails_reports_to_the_intake_address(intake: tuple[Intake, int]) -> None:
    handler, port = intake
    channel = EmailChannel(ServiceEndpoints(inbound_smtp=("127.0.0.1", port)))
    assert channel.deliver(report(3, channel="email")).ok
    _, mail_from, rcpts, msg = handler.messages[0]
    assert mail_from == "soc@bank.example"
    assert rcpts == ["report@takedown.sandbox.example"]
    assert msg["Subject"] == "Phish"
    assert "hxxp://login3.bank[.]example/jp/" in msg.get_content()


def test_it_feeds_reports_at_their_times(intake: tuple[Intake, int]) -> None:
    handler, port = intake
    endpoints = ServiceEndpoints(inbound_smtp=("127.0.0.1", port))
    feeder = ReportFeeder(
        [report(1, 0.4, "email"), report(0, 0, "email")], {"email": EmailChannel(endpoints)}
    )
    start = time.monotonic()
    feeder.start()
    wait_until(lambda: not feeder.pending, timeout=30, what="both reports fed")
    feeder.stop()
    assert [d.report for d in feeder.deliveries] == [0, 1]
    assert all(d.ok for d in feeder.deliveries)
    _, second = (m[0] - start for m in handler.messages)
    # Lower bounds only: a loaded machine may deliver late, never early.
    assert second >= 0.35


def test_it_records_a_failed_delivery() -> None:
    endpoints = ServiceEndpoints(inbound_smtp=("127.0.0.1", free_port()))
    feeder = ReportFeeder([report(0, 0, "email")], {"email": EmailChannel(endpoints, attempts=2)})
    result = feeder.deliver_now(report(0, 0, "email"))
    assert not result.ok and "ConnectionRefusedError" in result.detail


def test_it_builds_the_cli_call() -> None:
    cmd = CliChannel(ServiceEndpoints(cli=["takedown"])).command(report(4, channel="cli"))
    assert cmd == [
        "takedown",
        "report",
        "--name",
        "Bank SOC",
        "--email",
        "soc@bank.example",
        "--type",
        "financial",
        "--country",
        "JP",
        "--json",
        "--subject",
        "Phish",
        "-",
    ]
