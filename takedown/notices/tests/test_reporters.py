"""Reporters: acknowledgement with the token, closure message, both switchable; CLOSED always."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from takedown.cases.models import Event, EventKind, SiteState
from takedown.intake.services import ReporterInfo, report_receive
from takedown.locate.models import Organization
from takedown.notices.models import Notice, NoticeKind, NoticeState, OutboxMessage, OutboxState
from takedown.notices.outbox import outbox_flush
from takedown.notices.planning import notices_compose_due
from takedown.notices.reporters import reporter_ack, site_close
from takedown.notices.tests.conftest import SmtpSink, confirm_down, make_org
from takedown.notices.tick import mail_tick

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db]


def _report(urls: list[str], *, email: str = "soc@bank-a.example", country: str = "JP") -> Any:
    return report_receive(
        channel="api",
        urls=urls,
        reporter=ReporterInfo(name="Bank A SOC", email=email, kind="financial", country=country),
    )


def _locate(result: Any, org: Organization) -> None:
    from takedown.cases.services import site_transition

    for site in result.sites:
        site.organization = org
        site.ip = "192.0.2.7"
        site_transition(
            site,
            SiteState.LOCATED,
            kind=EventKind.LOCATE_DONE,
            update_fields=["ip", "organization"],
        )


def test_it_acknowledges_a_report_with_its_token_in_the_reporters_language(smtp: SmtpSink) -> None:
    result = _report(["http://login.bank-a.example/jp/"])
    reporter_ack(result.report.pk)
    reporter_ack(result.report.pk)  # a retried task sends nothing more
    mail_tick()
    [msg] = smtp.messages
    token = result.report.token
    assert f"[{token}]" in msg.message["Subject"]
    assert msg.rcpt_tos == ["soc@bank-a.example"]
    assert "ご報告ありがとうございます" in msg.text
    assert "hxxp://login[.]bank-a[.]example/jp/" in msg.text
    assert Event.objects.filter(kind=EventKind.REPORTER_ACK_SENT, report=result.report).count() == 1


def test_it_does_not_acknowledge_when_the_reporter_said_no(smtp: SmtpSink) -> None:
    result = _report(["http://login.bank-b.example/"], email="noack@bank-b.example", country="US")
    reporter = result.report.reporter
    reporter.notify_ack = False
    reporter.save()
    assert reporter_ack(result.report.pk) is None
    mail_tick()
    assert smtp.messages == []


def test_it_tells_the_reporter_when_the_site_is_down_then_closes_it(smtp: SmtpSink) -> None:
    org = make_org("Net Z", country="US")
    result = _report(
        ["http://a.bank-z.example/", "http://b.bank-z.example/"],
        email="cert@partner.example",
        country="US",
    )
    _locate(result, org)
    for site in result.sites:
        confirm_down(site)
        site_close(site.pk)
        site.refresh_from_db()
        assert site.state == SiteState.CLOSED
    mail_tick()
    [msg] = smtp.messages  # one message for both sites
    assert "Closed" in msg.message["Subject"]
    assert "hxxp://a[.]bank-z[.]example/" in msg.text and "hxxp://b[.]bank-z[.]example/" in msg.text
    assert result.report.token in msg.text
    assert Event.objects.filter(kind=EventKind.REPORTER_CLOSED_SENT).count() == 2
    assert Notice.objects.get(kind=NoticeKind.CLOSED).reporter == result.report.reporter


def test_it_closes_the_site_even_when_nobody_is_told(smtp: SmtpSink) -> None:
    org = make_org("Net Y", country="US")
    result = _report(["http://a.bank-y.example/"], email="quiet@partner.example", country="US")
    reporter = result.report.reporter
    reporter.notify_closed = False
    reporter.save()
    _locate(result, org)
    [site] = result.sites
    confirm_down(site)
    site_close(site.pk)
    mail_tick()
    site.refresh_from_db()
    assert site.state == SiteState.CLOSED
    assert smtp.messages == []
    assert not Event.objects.filter(kind=EventKind.REPORTER_CLOSED_SENT).exists()
    assert Event.objects.filter(site=site, kind=EventKind.SITE_CLOSED).count() == 1


def test_it_gives_each_site_its_own_down_time_in_the_closure_message(smtp: SmtpSink) -> None:
    org = make_org("Net X", country="US")
    result = _report(
        ["http://a.bank-x.example/", "http://b.bank-x.example/"],
        email="cert@partner-x.example",
        country="US",
    )
    _locate(result, org)
    for site in result.sites:
        confirm_down(site)
        site_close(site.pk)
    mail_tick()
    [msg] = smtp.messages
    assert msg.text.count("confirmed down:") == 2
    assert "confirmed down: -" not in msg.text
    assert msg.text.count(result.report.token) == 2


def _closed_site(email: str, urls: list[str]) -> list[Any]:
    org = make_org(f"Net {email}", country="US")
    result = _report(urls, email=email, country="US")
    _locate(result, org)
    for site in result.sites:
        confirm_down(site)
        site_close(site.pk)
        site.refresh_from_db()
    return list(result.sites)


def _revive(site: Any) -> None:
    from takedown.cases.services import site_transition

    site_transition(site, SiteState.REVIVED, kind=EventKind.SITE_REVIVED)


def test_it_withdraws_the_closure_message_of_a_site_up_again_before_it_is_written(
    smtp: SmtpSink, settings: Any
) -> None:
    settings.NOTICE_BATCH_WINDOW = 60
    [site] = _closed_site("cert@partner-r.example", ["http://a.bank-r.example/"])
    _revive(site)
    mail_tick(now=timezone.now() + timedelta(seconds=61))
    assert smtp.messages == []
    assert Notice.objects.get(kind=NoticeKind.CLOSED).state == NoticeState.CANCELLED
    assert Event.objects.filter(site=site, kind=EventKind.REPORTER_CLOSED_WITHDRAWN).exists()
    assert not Event.objects.filter(site=site, kind=EventKind.REPORTER_CLOSED_SENT).exists()


def test_it_withdraws_the_closure_message_of_a_site_up_again_before_it_is_sent(
    smtp: SmtpSink,
) -> None:
    a, b = _closed_site(
        "cert@partner-s.example", ["http://a.bank-s.example/", "http://b.bank-s.example/"]
    )
    notices_compose_due()  # written, in the outbox, not yet sent
    first = Notice.objects.get(kind=NoticeKind.CLOSED)
    assert "a[.]bank-s" in first.body and "b[.]bank-s" in first.body
    _revive(a)  # seen up again one second before the message would leave
    outbox_flush()
    assert smtp.messages == []
    first.refresh_from_db()
    assert first.state == NoticeState.CANCELLED
    assert OutboxMessage.objects.get(notice=first).state == OutboxState.CANCELLED
    assert Event.objects.filter(site=a, kind=EventKind.REPORTER_CLOSED_WITHDRAWN).exists()
    # The site still closed is told about in a new message naming only it.
    mail_tick()
    [msg] = smtp.messages
    assert "b[.]bank-s" in msg.text and "a[.]bank-s" not in msg.text
    assert Event.objects.filter(site=b, kind=EventKind.REPORTER_CLOSED_SENT).count() == 1
    assert not Event.objects.filter(site=a, kind=EventKind.REPORTER_CLOSED_SENT).exists()


def test_it_does_not_close_a_site_that_came_back_before_closing(smtp: SmtpSink) -> None:
    org = make_org("Net Q", country="US")
    result = _report(["http://a.bank-q.example/"], email="cert@partner-q.example", country="US")
    _locate(result, org)
    [site] = result.sites
    confirm_down(site)
    site.refresh_from_db()
    _revive(site)
    site_close(site.pk)  # the close hand-off arrives late
    site_close(site.pk)
    mail_tick()
    site.refresh_from_db()
    assert site.state == SiteState.REVIVED
    assert smtp.messages == []
    assert not Notice.objects.filter(kind=NoticeKind.CLOSED).exists()
