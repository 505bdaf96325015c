"""The statistics pages, charts and CSV downloads."""

from __future__ import annotations

from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from takedown.stats.tests.history import History, jst

HOSTILE_BRAND = '--><script>alert("x")</script>$\\frac{1}{0}$'


@pytest.fixture
def client_in(db, settings) -> Client:
    settings.TIME_ZONE = "Asia/Tokyo"
    settings.STATS_CACHE_SECONDS = 0
    h = History()
    net = h.org('Net <b>"A"</b>')
    h.case(net, jst(2025, 6, 2, 10), timedelta(hours=6), brand=HOSTILE_BRAND, ip="203.0.113.5")
    h.case(net, jst(2025, 6, 3, 10), timedelta(minutes=20), brand="=HYPERLINK(1)", ip="203.0.113.5")
    user = get_user_model().objects.create_user("alice", password="pw-alice-123")
    client = Client()
    client.force_login(user)
    return client


def test_it_requires_a_login(db):
    for url in [
        reverse("stats:index"),
        reverse("stats:more"),
        reverse("stats:chart", kwargs={"name": "reports_by_month", "fmt": "svg"}),
        reverse("stats:csv", kwargs={"name": "organizations"}),
    ]:
        response = Client().get(url)
        assert response.status_code == 302
        assert "/login/" in response["Location"]


def test_it_shows_the_seed_tables_in_english(client_in):
    response = client_in.get(reverse("stats:index"), {"fy": "2025"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    for heading in [
        "Phishing site reports per month",
        "Phishing reporters (by type)",
        "IP address administrators of phishing sites (by type)",
        "Phishing site closure response",
    ]:
        assert heading in html
    assert "20 min" in html
    assert "6 hours" in html
    # The organisation's name is escaped, never markup.
    assert "Net &lt;b&gt;&quot;A&quot;&lt;/b&gt;" in html
    assert '<b>"A"</b>' not in html
    assert (
        reverse("stats:chart", kwargs={"name": "organizations", "fmt": "svg"}) + "?fy=2025" in html
    )
    assert "download=1" in html


def test_it_shows_the_seed_headings_in_japanese(client_in, settings):
    settings.LANGUAGE_CODE = "ja"
    response = client_in.get(reverse("stats:index"), HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "ja"


def test_it_shows_what_the_seed_could_not(client_in):
    response = client_in.get(reverse("stats:more"), {"fy": "2025"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Time to takedown" in html
    assert "Brands targeted" in html
    assert "Servers with repeated sites" in html
    assert "203.0.113.5" in html
    assert "Reporter feedback" in html
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert" in html


@pytest.mark.parametrize("fy", ["abc", "99999", "FY"])
def test_it_answers_400_to_a_bad_year(client_in, fy):
    for name, kwargs in [
        ("stats:index", {}),
        ("stats:chart", {"name": "admins", "fmt": "svg"}),
        ("stats:csv", {"name": "admins"}),
    ]:
        response = client_in.get(reverse(name, kwargs=kwargs), {"fy": fy})
        assert response.status_code == 400
        assert response["Content-Type"].startswith("text/plain")


def test_it_answers_404_to_unknown_charts_and_tables(client_in):
    assert client_in.get("/stats/chart/nope.svg").status_code == 404
    assert client_in.get("/stats/chart/admins.pdf").status_code == 404
    assert client_in.get("/stats/csv/nope.csv").status_code == 404


@pytest.mark.parametrize(
    "name", ["reports_by_month", "organizations", "brands", "survival_country"]
)
def test_it_draws_charts(client_in, name):
    svg = client_in.get(reverse("stats:chart", kwargs={"name": name, "fmt": "svg"}))
    assert svg.status_code == 200
    assert svg["Content-Type"] == "image/svg+xml"
    assert svg.content.lstrip().startswith(b"<?xml")
    # Text is drawn as paths (the text itself only in escaped comments): a brand
    # can never become markup in the SVG.
    assert b"<script" not in svg.content
    root = ElementTree.fromstring(svg.content)  # noqa: S314 - our own output, under test
    for element in root.iter():
        assert not element.tag.endswith("script")
        assert "alert" not in (element.text or "") + (element.tail or "")
        assert not any("alert" in v for v in element.attrib.values())
    png = client_in.get(
        reverse("stats:chart", kwargs={"name": name, "fmt": "png"}), {"download": "1"}
    )
    assert png["Content-Type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert png["Content-Disposition"] == f'attachment; filename="takedown-{name}-all.png"'


def test_it_downloads_csv_safe_for_spreadsheets(client_in):
    response = client_in.get(reverse("stats:csv", kwargs={"name": "brands"}), {"fy": "2025"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="takedown-brands-FY2025.csv"'
    text = response.content.decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in text
    assert "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text
    assert HOSTILE_BRAND.replace('"', '""') in text


def test_it_links_the_statistics_from_the_navigation(client_in):
    html = client_in.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("stats:index")}"' in html
