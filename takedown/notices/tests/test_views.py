"""Handler views: notices, inbound mail (escaped, raw as a download), bad addresses."""

from __future__ import annotations

import pytest
from django.test import Client

from takedown.cases.models import Event, EventKind
from takedown.notices.inbound import inbound_receive
from takedown.notices.models import BadAddress, InboundMessage, Notice, NoticeState
from takedown.notices.planning import notice_plan_site
from takedown.notices.tests.conftest import SmtpSink, make_org, make_site
from takedown.notices.tick import mail_tick

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db]

HOSTILE = (
    b"From: Mallory <mallory@evil.example>\r\nTo: takedown@csirt.example\r\n"
    b"Subject: <script>alert(1)</script>\r\nContent-Type: text/html\r\n\r\n"
    b"<html><body><script>alert('x')</script><a href='http://evil.example/'>click</a></body></html>\r\n"
)


def test_it_shows_inbound_mail_escaped_and_raw_as_download(alice_client: Client) -> None:
    inbound = inbound_receive(HOSTILE)
    page = alice_client.get(f"/notices/inbound/{inbound.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert" in body
    raw = alice_client.get(f"/notices/inbound/{inbound.pk}/raw")
    assert raw["Content-Type"] == "application/octet-stream"
    assert raw["Content-Disposition"].startswith("attachment;")
    assert raw["X-Content-Type-Options"] == "nosniff"
    assert raw.content == HOSTILE
    listing = alice_client.get("/notices/inbound/")
    assert listing.status_code == 200 and "&lt;script&gt;" in listing.content.decode()


def test_it_requires_login(client: Client) -> None:
    inbound = inbound_receive(HOSTILE)
    assert client.get(f"/notices/inbound/{inbound.pk}/raw").status_code == 302
    assert client.get("/notices/").status_code == 302


def test_it_marks_closed_per_admin_from_a_reply(smtp: SmtpSink, alice_client: Client) -> None:
    org = make_org("Net R", country="US", abuse=["abuse@net-r.example"])
    site = make_site("http://login.bank-r.example/", org)
    notice_plan_site(site.pk)
    mail_tick()
    notice = Notice.objects.get()
    reply = (
        "From: abuse@net-r.example\r\nTo: takedown@csirt.example\r\n"
        f"Subject: Re: [{notice.token}] x\r\n"
        f"In-Reply-To: {notice.message_id}\r\n\r\nDeleted the site.\r\n"
    ).encode()
    inbound = inbound_receive(reply)
    assert alice_client.get(f"/notices/{notice.pk}/").status_code == 200
    response = alice_client.post(f"/notices/{notice.pk}/close", {"inbound": inbound.pk})
    assert response.status_code == 302
    notice.refresh_from_db()
    assert notice.state == NoticeState.CLOSED
    event = Event.objects.get(kind=EventKind.NOTICE_CLOSED_PER_ADMIN, site=site)
    assert event.actor == "alice"
    inbound.refresh_from_db()
    assert inbound.handled_by == "alice"


def test_it_allows_a_bad_address_again(alice_client: Client) -> None:
    org = make_org("Net S", country="US")
    bad = BadAddress.objects.create(organization=org, address="abuse@net-s.example", reason="5.1.1")
    assert "abuse@net-s.example" in BadAddress.blocked_for(org)
    assert alice_client.get("/notices/bad-addresses/").status_code == 200
    assert alice_client.post(f"/notices/bad-addresses/{bad.pk}/allow").status_code == 302
    bad.refresh_from_db()
    assert bad.allowed_by == "alice"
    assert "abuse@net-s.example" not in BadAddress.blocked_for(org)
    assert InboundMessage.objects.count() == 0
