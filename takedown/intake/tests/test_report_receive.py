from __future__ import annotations

import pytest
from django.test import override_settings

from takedown.cases.models import Event, EventKind, Incident, Site
from takedown.intake.models import Report, Reporter, ReportStatus
from takedown.intake.services import ReporterInfo, ReportError, report_receive

pytestmark = pytest.mark.django_db

BANK = ReporterInfo(name="Bank A SOC", email="soc@bank-a.example", kind="financial", country="jp")


def test_it_creates_sites_from_defanged_text() -> None:
    result = report_receive(
        channel="cli", text="Phishing: hxxp://login.bank-a[.]example/jp/ thanks", reporter=BANK
    )
    assert [s.url for s in result.sites] == ["http://login.bank-a.example/jp/"]
    assert result.report.raw_text.startswith("Phishing: hxxp://")
    reporter = Reporter.objects.get()
    assert (reporter.kind, reporter.country, reporter.language, reporter.domestic) == (
        "financial",
        "JP",
        "ja",
        True,
    )


def test_it_links_a_re_reported_url_to_the_existing_site() -> None:
    first = report_receive(channel="cli", text="http://phish.example/a", reporter=BANK)
    second = report_receive(
        channel="api",
        urls=["HTTP://PHISH.example:80/a#frag"],
        reporter=ReporterInfo(name="CERT X", kind="csirt", country="US"),
    )
    assert Site.objects.count() == 1
    assert second.sites[0].pk == first.sites[0].pk
    assert second.new_sites == []
    assert set(Site.objects.get().reports.all()) == {first.report, second.report}
    assert Event.objects.filter(kind=EventKind.SITE_REREPORTED, site=first.sites[0]).count() == 1


def test_it_groups_a_bulk_report_into_one_incident() -> None:
    urls = [f"http://s{i}.phish.example/" for i in range(5)]
    result = report_receive(channel="api", urls=urls, reporter=BANK)
    incident = Incident.objects.get()
    assert result.report.incident == incident
    assert incident.sites.count() == 5


def test_it_keeps_the_raw_input_of_a_report_without_urls() -> None:
    with pytest.raises(ReportError, match="no URL") as info:
        report_receive(channel="cli", text="nothing to see here", reporter=BANK)
    assert info.value.report is not None
    report = Report.objects.get()
    assert report.raw_text == "nothing to see here"
    assert report.status == ReportStatus.EMPTY


@pytest.mark.parametrize(
    "bad", ["javascript:alert(1)", "data:text/html,<b>x</b>", "file:///etc/passwd", "not a url"]
)
def test_it_refuses_bad_explicit_urls_and_says_why(bad: str) -> None:
    with pytest.raises(ReportError) as info:
        report_receive(channel="api", urls=[bad], reporter=BANK)
    assert bad[:10] in str(info.value)
    report = Report.objects.get()
    assert report.status == ReportStatus.REJECTED
    assert report.raw_text == bad
    assert Site.objects.count() == 0


def test_it_takes_the_good_urls_and_records_the_bad_ones() -> None:
    result = report_receive(
        channel="api", urls=["http://ok.example/", "javascript:alert(1)"], reporter=BANK
    )
    assert [s.url for s in result.sites] == ["http://ok.example/"]
    assert len(result.report.errors) == 1


@override_settings(MAX_REPORT_BYTES=2048)
def test_it_rejects_an_oversized_report_but_keeps_it() -> None:
    body = "http://big.example/ " + "x" * 5000
    with pytest.raises(ReportError, match="more than the limit"):
        report_receive(channel="api", text=body, reporter=BANK)
    report = Report.objects.get()
    assert report.raw_text == body
    assert Site.objects.count() == 0


def test_it_refuses_an_unknown_reporter_type() -> None:
    with pytest.raises(ReportError, match="reporter type"):
        report_receive(
            channel="cli", text="http://a.example/", reporter=ReporterInfo(name="x", kind="alien")
        )


def test_it_ignores_a_mail_delivered_twice() -> None:
    raw = b"From: a@b.example\r\nSubject: phish\r\nMessage-ID: <1@b.example>\r\n\r\nhxxp://evil[.]example/x\r\n"
    first = report_receive(channel="email", raw_mail=raw)
    again = report_receive(channel="email", raw_mail=raw)
    assert again.report.pk == first.report.pk
    assert Report.objects.count() == 1
    assert bytes(first.report.raw_bytes or b"") == raw
    assert first.report.subject == "phish"


def test_it_refuses_a_url_longer_than_a_site_can_store() -> None:
    long_url = "http://long.example/" + "a" * 3000
    with pytest.raises(ReportError):
        report_receive(channel="api", urls=[long_url], reporter=BANK)
    report = Report.objects.get()
    assert report.status == ReportStatus.REJECTED
    assert report.raw_text == long_url
    assert Site.objects.count() == 0
