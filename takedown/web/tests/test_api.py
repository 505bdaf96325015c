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
    page = r.json()
    assert [s["url"] for s in page["items"]] == ["http://a.example/", "http://b.example/"]
    assert (page["count"], page["limit"], page["offset"]) == (2, 100, 0)
    assert (
        Client()
        .get("/api/sites?state=bogus", HTTP_AUTHORIZATION=f"Bearer {alice_token}")
        .status_code
        == 422
    )


def test_it_publishes_the_openapi_schema() -> None:
    r = Client().get("/api/openapi.json")
    assert r.status_code == 200
    assert "/api/reports" in r.json()["paths"]


def test_it_answers_4xx_for_bad_paging(alice_token: str) -> None:
    client = Client(headers={"Authorization": f"Bearer {alice_token}"})
    for query in ("limit=-5", "limit=0", "limit=1001", "offset=-1", "limit=x", "offset=9" * 30):
        assert client.get(f"/api/sites?{query}").status_code == 422, query
    r = client.get("/api/sites?offset=100000&limit=1000")
    assert r.status_code == 200 and r.json()["items"] == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"text": "\\ud800 http://a.example/"}',
        b'{"urls": ["http://a.example/\\udfff"]}',
        b'{"text": "http://a.example/ \\u0000"}',
        b'{"text": "x", "reporter": {"\\ud800": 1}}',
        b"\xff\xfe{}",
    ],
)
def test_it_answers_400_for_json_the_database_could_not_store(
    alice_token: str, body: bytes
) -> None:
    r = Client().post(
        "/api/reports",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {alice_token}"},
    )
    assert r.status_code == 400
    assert Report.objects.count() == 0


def test_it_refuses_nul_in_a_query_parameter(alice_token: str) -> None:
    client = Client(headers={"Authorization": f"Bearer {alice_token}"})
    assert client.get("/api/sites?q=a%00b").status_code == 400
    assert client.get("/api/sites?q=%ED%A0%80").status_code == 200  # decoded as U+FFFD


def test_it_searches_sites_by_a_defanged_url(alice_token: str) -> None:
    post(Client(), alice_token, {"urls": ["http://login.bank.example/x", "http://b.example/"]})
    client = Client(headers={"Authorization": f"Bearer {alice_token}"})
    page = client.get("/api/sites", {"q": "hxxp://login[.]bank[.]example/x"}).json()
    assert [s["url"] for s in page["items"]] == ["http://login.bank.example/x"]
    page = client.get("/api/sites", {"host": "B.example", "order": "-id"}).json()
    assert page["count"] == 1
    assert client.get("/api/sites", {"historical": "true"}).json()["count"] == 0


def test_it_says_where_in_a_mailed_report_each_url_was_found(alice_token: str) -> None:
    from takedown.intake.services import ReporterInfo, report_receive

    raw = (
        b"From: SOC <soc@bank.example>\r\nTo: takedown@csirt.example\r\n"
        b"Subject: phishing at hxxp://sub[.]example/x\r\n\r\nand http://body.example/y\r\n"
    )
    result = report_receive(
        channel="email", raw_mail=raw, reporter=ReporterInfo(name="SOC", email="soc@bank.example")
    )
    client = Client(headers={"Authorization": f"Bearer {alice_token}"})
    report = client.get(f"/api/reports/{result.report.pk}").json()
    assert report["url_sources"] == result.report.url_sources
    assert [s["kind"] for s in report["url_sources"]["http://sub.example/x"]] == ["subject"]
    assert "http://body.example/y" in report["url_sources"]
    # A report with nothing recorded (typed in, or imported) has an empty map.
    post(Client(), alice_token, {"urls": ["http://a.example/"]})
    typed = client.get("/api/reports", {"channel": "api"}).json()["items"][0]
    assert typed["url_sources"] == {}


@pytest.mark.parametrize(
    ("stored", "served"),
    [
        # Not a map at all: nothing to say, and the report is still served.
        (["http://a.example/"], {}),
        ("junk", {}),
        # A map whose values are not lists of sources: those URLs are left out,
        # entries that are not sources are dropped, the rest is kept.
        (
            {"http://a.example/": "body", "http://b.example/": [{"kind": "body"}, "x", 3, None]},
            {"http://b.example/": [{"kind": "body"}]},
        ),
    ],
)
def test_it_serves_a_report_whose_stored_url_sources_are_malformed(
    alice_token: str, stored: Any, served: dict[str, Any]
) -> None:
    # url_sources is a JSON column: a row imported or edited by hand can hold anything.
    post(Client(), alice_token, {"urls": ["http://a.example/"]})
    Report.objects.update(url_sources=stored)
    client = Client(headers={"Authorization": f"Bearer {alice_token}"})
    pk = Report.objects.get().pk
    one = client.get(f"/api/reports/{pk}")
    assert one.status_code == 200 and one.json()["url_sources"] == served
    assert client.get("/api/reports").json()["items"][0]["url_sources"] == served


def test_it_serves_a_sites_timeline_and_checks(alice_token: str) -> None:
    post(Client(), alice_token, {"urls": ["http://a.example/"]})
    site = Site.objects.get()
    client = Client(headers={"Authorization": f"Bearer {alice_token}"})
    events = client.get(f"/api/sites/{site.pk}/events").json()
    assert events["count"] >= 1 and events["items"][0]["site_id"] == site.pk
    assert client.get(f"/api/sites/{site.pk}/checks").json()["count"] == 0
    from takedown.monitor.models import Check

    Check.objects.create(
        site=site,
        outcome="up",
        agent="mobile",
        detail="page served",
        other_agent="desktop",
        other_outcome="http_error",
        other_detail="HTTP 403 Forbidden",
        count=4,
        changed="outcome verdict",
    )
    (check,) = client.get(f"/api/sites/{site.pk}/checks").json()["items"]
    assert (check["agent"], check["detail"]) == ("mobile", "page served")
    # A run of equal checks: how many, until when, what changed from the run before.
    assert (check["count"], check["changed"]) == (4, ["outcome", "verdict"])
    assert check["last_at"]
    assert (check["other_agent"], check["other_outcome"], check["other_detail"]) == (
        "desktop",
        "http_error",
        "HTTP 403 Forbidden",
    )
    assert client.get(f"/api/sites/{site.pk}/evidence").json()["items"] == []
    assert client.get(f"/api/sites/{site.pk + 1}/events").status_code == 404
    report = client.get(f"/api/reports/{Report.objects.get().pk}").json()
    assert report["site_ids"] == [site.pk]
