"""The audit page and the admin's edits going through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from takedown.cases.models import Event, EventKind
from takedown.cases.services import event_record, sites_create_bulk
from takedown.intake.models import Reporter
from takedown.locate.models import Organization
from takedown.notices.models import CountryCSIRT

pytestmark = pytest.mark.django_db


@pytest.fixture
def org() -> Organization:
    return Organization.objects.create(
        name="Example Net", kind="isp", language="ja", registry_data={"kind": "isp"}
    )


def test_django_admin_edits_of_an_organisation_go_through_the_service(
    charlie_client: Client, org: Organization
) -> None:
    r = charlie_client.post(
        f"/admin/locate/organization/{org.pk}/change/",
        {
            "name": "Example Net",
            "kind": "school",
            "language": "ja",
            "country": "jp",
            "abuse_emails": '["ABUSE@net.example"]',
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    org.refresh_from_db()
    # The service's cleaning (upper-case country, lower-case address) and its pin.
    assert (org.kind, org.country, org.abuse_emails) == ("school", "JP", ["abuse@net.example"])
    assert org.is_overridden("kind")
    event = Event.objects.get(kind="organization.edited")
    assert event.actor == "charlie" and event.organization == org
    assert set(event.data["changes"]) == {"kind", "country", "abuse_emails"}
    # ... and it is on the audit page, found by actor, kind and object.
    page = charlie_client.get(
        "/audit/", {"actor": "charlie", "kind": "organization", "object": f"org:{org.pk}"}
    )
    assert page.status_code == 200
    assert "organization.edited" in page.content.decode()


def test_the_admin_refuses_a_bad_correction_with_the_services_message(
    charlie_client: Client, org: Organization
) -> None:
    r = charlie_client.post(
        f"/admin/locate/organization/{org.pk}/change/",
        {
            "name": "Example Net",
            "kind": "isp",
            "language": "ja",
            "country": "",
            "abuse_emails": '["not mail"]',
        },
        follow=True,
    )
    body = r.content.decode()
    assert "is not an e-mail address" in body and "was changed successfully" not in body
    assert not Event.objects.filter(kind="organization.edited").exists()


def test_the_admin_cannot_add_or_delete_organisations_or_change_sites(
    charlie_client: Client, org: Organization
) -> None:
    site = sites_create_bulk(
        [{"url": "http://a.example/", "host": "a.example", "registered_domain": "a.example"}]
    )["http://a.example/"]
    assert charlie_client.get("/admin/locate/organization/add/").status_code == 403
    assert (
        charlie_client.post(
            f"/admin/locate/organization/{org.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert (
        charlie_client.post(f"/admin/cases/site/{site.pk}/change/", {"brand": "x"}).status_code
        == 403
    )
    assert (
        charlie_client.get(f"/admin/cases/site/{site.pk}/change/").status_code == 200
    )  # view only
    assert charlie_client.post("/admin/cases/event/add/", {"kind": "forged"}).status_code == 403
    assert Organization.objects.filter(pk=org.pk).exists()


def test_directory_rows_edited_in_the_admin_are_on_the_timeline(charlie_client: Client) -> None:
    reporter = Reporter.objects.create(name="Bank A SOC", kind="financial", country="JP")
    r = charlie_client.post(
        f"/admin/intake/reporter/{reporter.pk}/change/",
        {
            "name": "Bank A SOC",
            "email": "",
            "kind": "csirt",
            "country": "JP",
            "language": "ja",
            "notify_ack": "on",
            "notify_closed": "on",
            "created_0": "2026-01-01",
            "created_1": "00:00:00",
        },
    )
    assert r.status_code == 302, r.content.decode()[:3000]
    event = Event.objects.get(kind="admin.changed")
    assert event.actor == "charlie"
    assert event.data["model"] == "intake.reporter" and event.data["reporter"] == reporter.pk
    assert event.data["changes"]["kind"] == {"from": "financial", "to": "csirt"}
    page = charlie_client.get("/audit/", {"object": f"reporter:{reporter.pk}"}).content.decode()
    assert "admin.changed" in page

    csirt = CountryCSIRT.objects.order_by("pk").first()
    assert csirt is not None  # the table comes filled by a migration
    r = charlie_client.post(f"/admin/notices/countrycsirt/{csirt.pk}/delete/", {"post": "yes"})
    assert r.status_code == 302
    deleted = Event.objects.get(kind="admin.deleted")
    assert deleted.data["countrycsirt"] == csirt.pk and deleted.message == str(csirt)[:200]


def test_the_audit_page_filters_by_date_and_pages_with_a_total(bob_client: Client) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=10), tick=False):
        event_record(kind=EventKind.NOTICE_CLOSED_PER_ADMIN, actor="alice", message="old one")
    for i in range(60):
        event_record(kind=EventKind.SITE_REJECTED, actor="api:alice", message=f"n{i}")
    event_record(kind=EventKind.SITE_STATE, actor="system", message="machine")

    page = bob_client.get("/audit/", {"actor": "alice"}).content.decode()
    assert "61 events" in page and "1 / 2" in page and "machine" not in page
    since = (timezone.localdate() - timedelta(days=1)).isoformat()
    page = bob_client.get("/audit/", {"actor": "alice", "since": since}).content.decode()
    assert "60 events" in page and "old one" not in page
    until = (timezone.localdate() - timedelta(days=5)).isoformat()
    page = bob_client.get("/audit/", {"until": until}).content.decode()
    assert "1 event" in page and "old one" in page
    page = bob_client.get("/audit/", {"who": "system"}).content.decode()
    assert "machine" in page and "n59" not in page
    page2 = bob_client.get("/audit/", {"actor": "alice", "page": "2"}).content.decode()
    assert "2 / 2" in page2 and "old one" in page2


@pytest.mark.parametrize(
    "params",
    [
        {"object": "site:abc"},
        {"object": "planet:3"},
        {"object": "nonsense"},
        {"since": "2026-13-45"},
        {"until": "\x00"},
        {"who": "martians", "page": "-3"},
        {"actor": "a" * 5000, "kind": "<script>"},
    ],
)
def test_the_audit_page_answers_bad_filters_without_failing(
    bob_client: Client, params: dict[str, str]
) -> None:
    r = bob_client.get("/audit/", params)
    assert r.status_code in (200, 400)
    # 400 for a NUL is plain text; otherwise the page shows the filters escaped.
    assert "<script>" not in r.content.decode().split("<main>")[-1]


def test_hostile_event_text_renders_inert(bob_client: Client) -> None:
    event_record(
        kind=EventKind.SITE_STATE,
        actor='<img src=x onerror="1">',
        message="<script>alert(1)</script>",
    )
    body = bob_client.get("/audit/").content.decode()
    assert "<script>alert(1)" not in body and "<img src=x" not in body
    assert "&lt;script&gt;" in body


def test_the_api_lists_the_audit_trail(alice_token: str, alice: User) -> None:
    event_record(
        kind=EventKind.TOKEN_CREATED, actor="cli", data={"user": "alice", "token": "tkd_AbCd"}
    )
    event_record(kind=EventKind.NOTICE_CLOSED_PER_ADMIN, actor="api:alice", data={"notice": 7})
    client = Client(headers={"Authorization": f"Bearer {alice_token}"})
    r = client.get("/api/events", {"object": "notice:7"})
    assert r.status_code == 200
    data = r.json()
    assert data["count"] == 1 and data["items"][0]["actor"] == "api:alice"
    assert client.get("/api/events", {"object": "user:alice"}).json()["count"] >= 1
    assert client.get("/api/events", {"object": "token:tkd_AbCd"}).json()["count"] == 1
    assert client.get("/api/events", {"object": "planet:1"}).status_code == 400
    assert client.get("/api/events", {"since": "yesterday"}).status_code == 422
