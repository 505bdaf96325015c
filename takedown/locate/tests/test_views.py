"""The organisations directory in the handler UI."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from takedown.cases.models import Event, EventKind
from takedown.conftest import logged_in, user_with_role
from takedown.locate.models import Organization, OrgRole

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice() -> Client:
    """Correcting organisations needs the admin role."""
    return logged_in(user_with_role("alice", "x" * 12, "admin"))


@pytest.fixture
def org() -> Organization:
    return Organization.objects.create(
        name="Example Net <script>alert(1)</script>",
        handle="EXNET-JP",
        registry="jpnic",
        country="JP",
        kind="isp",
        language="ja",
        abuse_emails=["abuse@net.example"],
        registry_data={"kind": "isp", "abuse_emails": ["abuse@net.example"], "language": "ja"},
    )


def test_it_needs_a_login(org: Organization) -> None:
    response = Client().get("/orgs/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_it_lists_and_filters(alice: Client, org: Organization) -> None:
    Organization.objects.create(name="Example Registrar", role=OrgRole.REGISTRAR)
    page = alice.get("/orgs/").content.decode()
    assert "EXNET-JP" in page and "Example Registrar" in page
    assert "<script>alert(1)</script>" not in page  # escaped, never live
    assert "&lt;script&gt;" in page
    page = alice.get("/orgs/?role=registrar").content.decode()
    assert "EXNET-JP" not in page
    page = alice.get("/orgs/?q=exnet-jp&kind=isp").content.decode()
    assert "EXNET-JP" in page


def test_an_admin_corrects_an_organisation(alice: Client, org: Organization) -> None:
    response = alice.post(
        f"/orgs/{org.pk}/",
        {
            "kind": "company",
            "language": "ja",
            "abuse_emails": "Desk@Net.example\nabuse@net.example",
            "note": "called them",
        },
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.kind == "company"
    assert org.abuse_emails == ["desk@net.example", "abuse@net.example"]
    assert set(org.overrides) == {"kind", "abuse_emails"}  # language was not changed
    event = Event.objects.get(kind=EventKind.ORGANIZATION_EDITED)
    assert event.organization == org and event.actor == "alice" and event.message == "called them"
    page = alice.get(f"/orgs/{org.pk}/").content.decode()
    # The timeline says what happened in words, not as an event code.
    assert "desk@net.example" in page and "alice corrected the organisation" in page
    assert "organization.edited" not in page


def test_it_refuses_a_bad_address(alice: Client, org: Organization) -> None:
    response = alice.post(
        f"/orgs/{org.pk}/",
        {"kind": "isp", "language": "ja", "abuse_emails": "not an address"},
    )
    assert response.status_code == 200
    assert "is not an e-mail address" in response.content.decode()
    org.refresh_from_db()
    assert org.abuse_emails == ["abuse@net.example"] and not org.overrides
    assert not Event.objects.filter(organization=org).exists()


def test_an_admin_gives_a_field_back_to_the_registry(alice: Client, org: Organization) -> None:
    alice.post(f"/orgs/{org.pk}/", {"kind": "school", "language": "en", "abuse_emails": ""})
    org.refresh_from_db()
    assert org.kind == "school" and org.language == "en" and org.abuse_emails == []
    alice.post(f"/orgs/{org.pk}/reset", {"field": ["kind", "abuse_emails", "bogus"]})
    org.refresh_from_db()
    assert org.kind == "isp"
    assert org.abuse_emails == ["abuse@net.example"]
    assert set(org.overrides) == {"language"}
    assert Event.objects.filter(kind=EventKind.ORGANIZATION_RESET, organization=org).exists()


def test_the_site_panel_shows_the_location(alice: Client, org: Organization) -> None:
    from django.template import Context, Template

    from takedown.cases.services import sites_create_bulk
    from takedown.locate.models import Location

    site = sites_create_bulk(
        [
            {
                "url": "http://evil.example/x",
                "host": "evil.example",
                "registered_domain": "evil.example",
            }
        ]
    )["http://evil.example/x"]
    Location.objects.create(
        site=site,
        outcome="located",
        host=site.host,
        ip="192.0.2.1",
        organization=org,
        abuse=["abuse@net.example"],
        sources=["rdap:https://rdap.example/ip/192.0.2.1"],
    )
    html = Template("{% load locate %}{% locate_panel site %}").render(Context({"site": site}))
    assert "192.0.2.1" in html and "abuse@net.example" in html
    assert f"/orgs/{org.pk}/" in html
    assert "<script>alert" not in html


def test_admin_lists_organisations(admin_client: Any, org: Organization) -> None:
    assert admin_client.get("/admin/locate/organization/").status_code == 200


def test_an_edit_in_the_admin_is_pinned_and_on_the_timeline(
    admin_client: Any, org: Organization
) -> None:
    url = f"/admin/locate/organization/{org.pk}/change/"
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(
        url,
        {
            "name": org.name,
            "kind": "company",
            "language": "ja",
            "abuse_emails": '["abuse@corrected.example"]',
            "country": "JP",
        },
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.kind == "company" and org.abuse_emails == ["abuse@corrected.example"]
    # Pinned against the next registry answer, and only the changed fields.
    assert org.overrides == {"kind": "company", "abuse_emails": ["abuse@corrected.example"]}
    event = Event.objects.get(organization=org, kind=EventKind.ORGANIZATION_EDITED)
    assert event.actor == "admin" and set(event.data["changes"]) == {"kind", "abuse_emails"}
