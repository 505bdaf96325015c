"""The monthly report, as HTML and as PDF."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from takedown.stats.report import ReportError, html_to_pdf, report_html
from takedown.stats.tests.history import History, jst

pytestmark = pytest.mark.concurrency

AS_OF = jst(2025, 7, 10, 9)


@pytest.fixture
def history(db, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    settings.TEAM_NAME = "Example CSIRT"
    h = History()
    net = h.org("Net <A>")
    h.case(net, jst(2025, 5, 12, 10), timedelta(hours=2))
    h.case(net, jst(2025, 6, 2, 10), timedelta(hours=6), brand="<img src=x onerror=alert(1)>")
    h.case(net, jst(2025, 6, 3, 10), timedelta(minutes=20), told_after=timedelta(hours=1))
    h.case(net, jst(2025, 6, 30, 22), None)
    return h


def test_it_writes_the_month_as_html(history):
    html = report_html(2025, 6, lang="en", as_of=AS_OF)
    assert "Phishing site takedown report, June 2025" in html
    assert "Example CSIRT" in html
    assert "figures as of 2025-07-10 09:00" in html
    assert "Phishing site closure response" in html
    assert "Net &lt;A&gt;" in html
    assert "<img src=x" not in html
    # Charts are inline, nothing is fetched.
    assert html.count('src="data:image/svg+xml;base64,') >= 6
    assert "http://" not in html.replace("http://www.w3.org", "")
    # The summary: 3 reports in June (1 in May: +200%), 3 sites noticed, 2 down.
    assert "+200%" in html
    assert "67%" in html


def test_it_writes_the_month_in_japanese(history):
    html = report_html(2025, 6, lang="ja", as_of=AS_OF)
    assert '<html lang="ja">' in html
    assert "2025年6月" in html


def test_it_writes_html_from_the_command(history, tmp_path):
    out = tmp_path / "report.html"
    stdout = io.StringIO()
    call_command("monthly-report", "2025-06", "--html", str(out), "--lang", "en", stdout=stdout)
    assert out.read_text().startswith("<!doctype html>")
    assert f"wrote {out}" in stdout.getvalue()


def _chromium(settings) -> None:
    if not Path(settings.CHROMIUM_PATH).exists():
        pytest.skip(f"Chromium not installed at {settings.CHROMIUM_PATH}")


@pytest.mark.timeout(180)
def test_it_prints_the_month_to_pdf(history, settings, tmp_path):
    _chromium(settings)
    out = tmp_path / "report.pdf"
    call_command(
        "monthly-report", "2025-06", "--pdf", str(out), "--lang", "ja", stdout=io.StringIO()
    )
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    assert b"%%EOF" in data[-1024:]
    # Several pages' worth of tables and embedded charts, not an empty page.
    assert len(data) > 50_000


def test_it_explains_a_missing_browser(history, settings, tmp_path):
    settings.CHROMIUM_PATH = str(tmp_path / "no-chromium")
    with pytest.raises(ReportError, match="Chromium not found"):
        html_to_pdf("<p>x</p>", tmp_path / "x.pdf")
    with pytest.raises(CommandError, match="--html"):
        call_command("monthly-report", "2025-06", "--pdf", str(tmp_path / "x.pdf"))
    assert not (tmp_path / "x.pdf").exists()
