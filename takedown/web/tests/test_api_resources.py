"""The API's resources beyond sites: notices and threads, mail, organisations,
reporters, incidents, statistics; each action through its service."""

from __future__ import annotations

import pytest

from takedown.cases.models import Event, EventKind, Incident, Site
from takedown.intake.models import Reporter
from takedown.locate.models import Organization
from takedown.notices.inbound import inbound_receive
from takedown.notices.models import BadAddress, InboundMessage, Notice
from takedown.web.tests.api_helpers import api, make_notice, make_org, make_sites, send

pytestmark = pytest.mark.django_db

HOSTILE_MAIL = (
    b"From: Mallory <mallory@evil.example>\r\nTo: takedown@csirt.example\r\n"
    b"Subject: <script>alert(1)</script>\r\nContent-Type: text/html\r\n\r\n"
    b"<html><body><script>alert('x')</script>Site removed.</body></html>\r\n"
)


@pytest.fixture
def org() -> Organization:
    return make_org()


@pytest.fixture
def site(org: Organization) -> Site:
    return make_sites(1, org)[0]


@pytest.fixture
def notice(org: Organization, site: Site) -> Notice:
    return make_notice(org, [site])


def test_it_lists_notices_and_shows_one_with_its_thread(
    alice_token: str, notice: Notice, site: Site
) -> None:
    client = api(alice_token)
    page = client.get(f"/api/notices?site={site.pk}&state=sent").json()
    assert page["count"] == 1 and page["items"][0]["site_ids"] == [site.pk]
    detail = client.get(f"/api/notices/{notice.pk}").json()
    assert detail["body"].startswith("Please take down") and detail["thread_id"] == notice.pk
    reply = inbound_receive(
        b"From: abuse@net.example\r\nTo: takedown@csirt.example\r\n"
        b"Subject: Re: [TKD#N" + str(notice.pk).encode() + b"] Phishing site\r\n"
        b"In-Reply-To: <n1@takedown.example>\r\n\r\nRemoved.\r\n"
    )
    # Linked as the inbound router or a handler would have.
    InboundMessage.objects.filter(pk=reply.pk).update(notice=notice)
    thread = client.get(f"/api/notices/{notice.pk}/thread").json()
    assert [(i["direction"], i["id"]) for i in thread["items"]] == [
        ("out", notice.pk),
        ("in", reply.pk),
    ]
    assert client.get("/api/notices", {"state": "bogus"}).status_code == 422


def test_a_handler_closes_a_notice_and_a_viewer_cannot(
    alice_token: str, bob_token: str, notice: Notice
) -> None:
    assert send(api(bob_token), "POST", f"/api/notices/{notice.pk}/close").status_code == 403
    assert (
        send(
            api(alice_token), "POST", f"/api/notices/{notice.pk}/close", {"inbound": 999}
        ).status_code
        == 400
    )
    r = send(api(alice_token), "POST", f"/api/notices/{notice.pk}/close")
    assert r.status_code == 200 and r.json()["state"] == "closed"
    event = Event.objects.get(kind=EventKind.NOTICE_CLOSED_PER_ADMIN)
    assert event.actor == "api:alice" and event.data["notice"] == notice.pk


def test_inbound_mail_is_text_in_json_and_raw_as_a_download(alice_token: str) -> None:
    inbound = inbound_receive(HOSTILE_MAIL)
    client = api(alice_token)
    page = client.get("/api/inbound").json()
    assert page["count"] == 1 and page["items"][0]["subject"] == "<script>alert(1)</script>"
    detail = client.get(f"/api/inbound/{inbound.pk}").json()
    # Text in a JSON string: data for the client, never markup we render.
    assert "Site removed." in detail["text"]
    raw = client.get(f"/api/inbound/{inbound.pk}/raw")
    assert raw["Content-Type"] == "application/octet-stream"
    assert raw["Content-Disposition"].startswith("attachment;") and raw.content == HOSTILE_MAIL
    assert client.get("/api/inbound", {"handled": "false"}).json()["count"] == 1


def test_a_bounced_address_is_allowed_again_through_the_service(
    alice_token: str, org: Organization
) -> None:
    bad = BadAddress.objects.create(organization=org, address="abuse@net.example")
    client = api(alice_token)
    assert client.get("/api/bad-addresses", {"blocked": "true"}).json()["count"] == 1
    r = send(client, "POST", f"/api/bad-addresses/{bad.pk}/allow")
    assert r.status_code == 200 and r.json()["allowed_by"] == "api:alice"
    assert Event.objects.filter(kind=EventKind.NOTICE_ADDRESS_ALLOWED).exists()
    assert client.get("/api/bad-addresses", {"blocked": "true"}).json()["count"] == 0


def test_organisations_are_read_by_all_and_corrected_by_admins(
    bob_token: str, alice_token: str, charlie_token: str, org: Organization, site: Site
) -> None:
    page = api(bob_token).get("/api/organizations", {"q": "example", "kind": "isp"}).json()
    assert page["count"] == 1 and page["items"][0]["sites"] == 1
    body = {"kind": "school", "abuse_emails": ["Desk@Net.example"], "note": "phoned them"}
    assert send(api(alice_token), "PATCH", f"/api/organizations/{org.pk}", body).status_code == 403
    r = send(api(charlie_token), "PATCH", f"/api/organizations/{org.pk}", body)
    assert r.status_code == 200, r.content
    data = r.json()
    assert data["kind"] == "school" and data["abuse_emails"] == ["desk@net.example"]
    assert data["overridden"] == ["abuse_emails", "kind"]
    event = Event.objects.get(kind=EventKind.ORGANIZATION_EDITED)
    assert event.actor == "api:charlie" and event.message == "phoned them"
    bad = send(api(charlie_token), "PATCH", f"/api/organizations/{org.pk}", {"country": "Japan"})
    assert bad.status_code == 400 and "2-letter" in bad.json()["detail"]
    r = send(api(charlie_token), "POST", f"/api/organizations/{org.pk}/reset", {"fields": ["kind"]})
    assert r.json()["kind"] == "isp" and r.json()["overridden"] == ["abuse_emails"]
    r = send(api(charlie_token), "POST", f"/api/organizations/{org.pk}/reset", {"fields": ["asn"]})
    assert r.status_code == 400


def test_reporters_and_incidents(alice_token: str, bob_token: str, site: Site) -> None:
    Reporter.objects.create(
        name="Bank A SOC", email="soc@bank-a.example", kind="financial", country="JP"
    )
    page = api(bob_token).get("/api/reporters", {"type": "financial"}).json()
    assert page["count"] == 1 and page["items"][0]["domestic"] is True
    body = {"title": "Campaign <b>X</b>", "site_ids": [site.pk]}
    assert send(api(bob_token), "POST", "/api/incidents", body).status_code == 403
    r = send(api(alice_token), "POST", "/api/incidents", body)
    assert r.status_code == 201 and r.json()["site_ids"] == [site.pk]
    incident = Incident.objects.get()
    assert api(bob_token).get("/api/incidents", {"site": site.pk}).json()["count"] == 1
    assert (
        api(bob_token).get(f"/api/incidents/{incident.pk}").json()["title"] == "Campaign <b>X</b>"
    )
    missing = send(
        api(alice_token), "POST", "/api/incidents", {"title": "y", "site_ids": [site.pk + 99]}
    )
    assert missing.status_code == 400


def test_statistics_have_the_clis_shape(bob_token: str) -> None:
    client = api(bob_token)
    data = client.get("/api/stats").json()
    assert {"reports_by_month", "reporters", "admins", "organizations"} <= set(data)
    assert client.get("/api/stats", {"fy": 2025}).status_code == 200
    assert client.get("/api/stats", {"fy": 99999}).status_code == 422
