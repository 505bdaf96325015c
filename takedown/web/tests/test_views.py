from __future__ import annotations

import pytest
from django.test import Client

from takedown.cases.models import Site
from takedown.intake.models import Report

pytestmark = pytest.mark.django_db


def test_it_serves_the_login_page() -> None:
    r = Client().get("/login/")
    assert r.status_code == 200
    assert b'name="password"' in r.content
    assert "Content-Security-Policy" in r.headers


def test_it_sends_anonymous_users_to_login() -> None:
    r = Client().get("/reports/new")
    assert r.status_code == 302
    assert r["Location"].startswith("/login/")


def test_it_takes_a_report_from_the_form(alice_client: Client) -> None:
    r = alice_client.post(
        "/reports/new",
        {
            "text": "hxxp://phish[.]example/login <script>alert(1)</script>",
            "kind": "phishing",
            "brand": "Example Bank",
            "reporter_name": "Shop",
            "reporter_email": "sec@shop.example",
            "reporter_type": "ecommerce",
            "reporter_country": "JP",
            "purpose": "request",
            "tlp": "amber",
        },
    )
    assert r.status_code == 302
    report = Report.objects.get()
    assert report.channel == "form"
    assert report.created_by is not None
    site = Site.objects.get()
    assert site.brand == "Example Bank"
    page = alice_client.get(f"/sites/{site.pk}/")
    # Shown defanged and never as a live link.
    assert b"hxxp://phish[.]example/login" in page.content
    assert b'href="http://phish.example' not in page.content


def test_it_shows_form_errors_for_text_without_urls(alice_client: Client) -> None:
    r = alice_client.post(
        "/reports/new",
        {
            "text": "hello",
            "kind": "phishing",
            "reporter_type": "other",
            "purpose": "request",
            "tlp": "amber",
        },
    )
    assert r.status_code == 200
    assert b"no URL found" in r.content
    assert Report.objects.get().raw_text == "hello"


def test_it_escapes_hostile_report_content(alice_client: Client) -> None:
    alice_client.post(
        "/reports/new",
        {
            "text": "<img src=x onerror=alert(1)> http://x.example/",
            "kind": "phishing",
            "reporter_type": "other",
            "purpose": "request",
            "tlp": "amber",
        },
    )
    report = Report.objects.get()
    page = alice_client.get(f"/reports/{report.pk}/")
    assert b"<img src=x" not in page.content
    raw = alice_client.get(f"/reports/{report.pk}/raw")
    assert raw["Content-Type"] == "application/octet-stream"
    assert raw["Content-Disposition"].startswith("attachment")
