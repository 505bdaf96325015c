"""Reporters: unknown senders wait to be classified; a classification counts in the statistics."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from takedown.cases.models import Event
from takedown.intake.models import Reporter
from takedown.intake.services import (
    ReporterInfo,
    ReportError,
    report_receive,
    reporter_classify,
    reporter_register,
)

pytestmark = pytest.mark.django_db


def _mail() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Someone <someone@unknown.example>"
    msg["To"] = "takedown@csirt.example"
    msg["Subject"] = "phishing"
    msg.set_content("hxxp://phish[.]example/login")
    return msg.as_bytes()


def test_it_records_an_unknown_mail_sender_as_not_classified() -> None:
    report_receive(
        channel="email",
        raw_mail=_mail(),
        reporter=ReporterInfo(name="Someone", email="someone@unknown.example"),
    )
    assert Reporter.objects.get().classified is False


def test_it_classifies_a_reporter_and_the_statistics_follow() -> None:
    from takedown.stats.selectors import stats_get

    result = report_receive(
        channel="email",
        raw_mail=_mail(),
        reporter=ReporterInfo(name="Someone", email="someone@unknown.example"),
    )
    reporter = result.report.reporter
    assert reporter is not None
    reporter_classify(
        reporter=reporter,
        actor="alice",
        kind="csirt",
        country="us",
        language="en",
        notify_ack=False,
        notify_closed=True,
    )
    reporter.refresh_from_db()
    assert (reporter.kind, reporter.country, reporter.classified, reporter.notify_ack) == (
        "csirt",
        "US",
        True,
        False,
    )
    assert Event.objects.get(kind="reporter.classified").actor == "alice"
    stats = stats_get(use_cache=False)
    (year,) = stats.reporters.values()
    assert year["csirt"]["overseas"] == 1


def test_it_registers_a_known_reporter_classified() -> None:
    reporter = reporter_register(
        info=ReporterInfo(
            name="Bank A SOC", email="soc@bank-a.example", kind="financial", country="JP"
        ),
        actor="sandbox",
    )
    assert (reporter.kind, reporter.country, reporter.language, reporter.classified) == (
        "financial",
        "JP",
        "ja",
        True,
    )
    with pytest.raises(ReportError):
        reporter_register(info=ReporterInfo(kind="bogus", name="x"), actor="sandbox")


def test_it_loads_known_reporters_from_the_command_line(tmp_path: object) -> None:
    import json
    from pathlib import Path

    from django.core.management import CommandError, call_command

    path = Path(str(tmp_path)) / "r.json"
    path.write_text(
        json.dumps(
            [{"name": "CSIRT X", "email": "x@csirt.example", "type": "csirt", "country": "us"}]
        )
    )
    call_command("reporter", "load", str(path))
    assert Reporter.objects.get().kind == "csirt"
    path.write_text("{not json")
    with pytest.raises(CommandError):
        call_command("reporter", "load", str(path))


def test_it_puts_an_unknown_sender_in_the_queue_until_classified() -> None:
    from takedown.handler_queue import handler_items

    report_receive(
        channel="email",
        raw_mail=_mail(),
        reporter=ReporterInfo(name="Someone", email="someone@unknown.example"),
    )
    reporter = Reporter.objects.get()
    items = handler_items(reasons=["unknown_reporter"])
    assert [(i.reporter_id, i.detail) for i in items] == [(reporter.pk, "someone@unknown.example")]
    reporter_classify(
        reporter=reporter,
        actor="alice",
        kind="csirt",
        country="JP",
        language="ja",
        notify_ack=True,
        notify_closed=True,
    )
    assert handler_items(reasons=["unknown_reporter"]) == []
