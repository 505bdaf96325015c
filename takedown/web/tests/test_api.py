from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, override_settings

from takedown.cases.models import Site
from takedown.intake.models import Report

pytestmark = pytest.mark.django_db


def post(client: Client, token: str | None, body: object) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(
        "/api/reports", data=json.dumps(body), content_type="application/json", headers=headers
    )


def test_it_accepts_a_report_with_a_token(alice_token: str) -> None:
    r = post(
        Client(),
        alice_token,
        {
            "text": "see hxxps://evil[.]example/x",
            "reporter": {"name": "CERT Y", "type": "csirt", "country": "DE"},
            "tlp": "green",
        },
    )
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["sites"][0]["url"] == "https://evil.example/x"
    assert data["sites"][0]["defanged"] == "hxxps://evil[.]example/x"
    report = Report.objects.get()
    assert report.reporter is not None
    assert (report.channel, report.tlp, report.reporter.kind, report.reporter.domestic) == (
        "api",
        "green",
        "csirt",
        False,
    )


def test_it_refuses_requests_without_a_valid_token() -> None:
    assert post(Client(), None, {"text": "http://a.example/"}).status_code == 401
    assert post(Client(), "tkd_wrong", {"text": "http://a.example/"}).status_code == 401
    assert Report.objects.count() == 0


def test_it_answers_400_with_a_message_for_a_bad_url(alice_token: str) -> None:
    r = post(Client(), alice_token, {"urls": ["javascript:alert(1)"]})
    assert r.status_code == 400
    assert "javascript" in r.json()["detail"]
    assert Report.objects.get().raw_text == "javascript:alert(1)"


def test_it_answers_422_for_malformed_json(alice_token: str) -> None:
    r = Client().post(
        "/api/reports",
        data=b"{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {alice_token}",
    )
    assert r.status_code in (400, 422)
    assert Site.objects.count() == 0


@override_settings(MAX_REPORT_BYTES=4096)
def test_it_answers_413_for_an_oversized_report(alice_token: str) -> None:
    r = post(Client(), alice_token, {"text": "http://a.example/ " + "y" * 6000})
    assert r.status_code == 413
    assert Report.objects.get().status == "rejected"


def test_it_lists_sites_by_state(alice_token: str) -> None:
    post(Client(), alice_token, {"urls": ["http://a.example/", "http://b.example/"]})
    r = Client().get("/api/sites?state=reported", HTTP_AUTHORIZATION=f"Bearer {alice_token}")
    assert [s["url"] for s in r.json()] == ["http://a.example/", "http://b.example/"]
    assert (
        Client()
        .get("/api/sites?state=bogus", HTTP_AUTHORIZATION=f"Bearer {alice_token}")
        .status_code
        == 400
    )


def test_it_publishes_the_openapi_schema() -> None:
    r = Client().get("/api/openapi.json")
    assert r.status_code == 200
    assert "/api/reports" in r.json()["paths"]
