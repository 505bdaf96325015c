"""Follow-ups in the same thread, escalation, revival notices, recurrence."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from takedown.cases.models import Event, EventKind, SiteState
from takedown.cases.services import site_transition
from takedown.notices.models import CountryCSIRT, Notice, NoticeKind
from takedown.notices.planning import notice_plan_site
from takedown.notices.reporters import site_close
from takedown.notices.tests.conftest import SmtpSink, confirm_down, make_org, make_site
from takedown.notices.tick import mail_tick

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db]


def _send_first(smtp: SmtpSink, country: str = "DE") -> tuple[Any, Any, Notice]:
    org = make_org("Example Net D", country=country, abuse=["abuse@net-d.example"])
    site = make_site("http://login.bank-d.example/", org)
    notice_plan_site(site.pk)
    mail_tick()
    return org, site, Notice.objects.get(kind=NoticeKind.INITIAL)


def test_it_follows_up_in_the_same_thread(smtp: SmtpSink) -> None:
    _org, site, root = _send_first(smtp)
    later = timezone.now() + timedelta(minutes=30)
    mail_tick(now=later)
    assert len(smtp.messages) == 1  # not yet due (renotify after 1h)
    mail_tick(now=timezone.now() + timedelta(hours=1, minutes=1))
    assert len(smtp.messages) == 2
    followup = smtp.messages[1].message
    assert followup["In-Reply-To"] == root.message_id
    assert root.message_id in followup["References"]
    assert root.token in followup["Subject"]
    event = Event.objects.get(site=site, kind=EventKind.NOTICE_FOLLOWUP)
    assert event.data["followup"] == 1
    site.refresh_from_db()
    assert site.state == SiteState.NOTIFIED


def test_it_escalates_after_the_last_follow_up(smtp: SmtpSink, settings: Any) -> None:
    csirt = CountryCSIRT.objects.get(country="DE")
    csirt.enabled = True
    csirt.email = "certbund@csirt-de.example"
    csirt.save()
    _org, site, root = _send_first(smtp)
    now = timezone.now()
    for hours in (2, 4, 6, 8, 10):
        mail_tick(now=now + timedelta(hours=hours))
    kinds = list(Notice.objects.order_by("pk").values_list("kind", flat=True))
    assert kinds == ["initial", "followup", "followup", "escalation"]
    assert len(smtp.messages) == 4
    escalation = smtp.messages[3]
    assert "certbund@csirt-de.example" in escalation.rcpt_tos
    assert "abuse@net-d.example" in escalation.rcpt_tos  # copied
    assert escalation.message["In-Reply-To"]
    assert Event.objects.filter(site=site, kind=EventKind.NOTICE_ESCALATED).count() == 1
    root.refresh_from_db()
    assert root.escalated_at is not None and root.next_deadline is None


def test_it_stops_following_up_once_the_site_is_down(smtp: SmtpSink) -> None:
    _org, site, _root = _send_first(smtp)
    confirm_down(site)
    site_close(site.pk)
    site.refresh_from_db()
    assert site.state == SiteState.CLOSED
    mail_tick(now=timezone.now() + timedelta(hours=5))
    assert len(smtp.messages) == 1


def test_it_sends_a_revival_notice_naming_the_first(smtp: SmtpSink) -> None:
    _org, site, root = _send_first(smtp, country="US")
    confirm_down(site)
    site_close(site.pk)
    site.refresh_from_db()
    site_transition(site, SiteState.REVIVED, kind=EventKind.SITE_REVIVED)
    notice_plan_site(site.pk)
    mail_tick()
    assert len(smtp.messages) == 2
    revival = Notice.objects.get(kind=NoticeKind.REVIVAL)
    text = smtp.messages[1].text
    assert root.token in text
    assert "reachable again" in text
    assert Event.objects.filter(site=site, kind=EventKind.NOTICE_SENT).count() == 2
    site.refresh_from_db()
    assert site.state == SiteState.NOTIFIED
    assert revival.parent is None


def test_it_says_when_the_server_hosted_a_site_before(smtp: SmtpSink) -> None:
    org, old, root = _send_first(smtp, country="US")
    confirm_down(old)
    site_close(old.pk)
    new = make_site("http://other.brand-x.example/", org, ip=old.ip)
    notice_plan_site(new.pk)
    mail_tick()
    text = smtp.messages[-1].text
    assert "another URL on this server on" in text
    assert root.token in text
    assert "bank-d" not in text  # the closed URL is not named again


def test_it_plans_a_site_once_per_decision(smtp: SmtpSink) -> None:
    org = make_org("Net E", country="US")
    site = make_site("http://login.bank-e.example/", org)
    assert notice_plan_site(site.pk) is not None
    assert notice_plan_site(site.pk) is None  # a retried task
    mail_tick()
    assert notice_plan_site(site.pk) is None  # notified already
    mail_tick()
    assert len(smtp.messages) == 1


def test_it_waits_for_the_batching_window(smtp: SmtpSink, settings: Any) -> None:
    settings.NOTICE_BATCH_WINDOW = 60
    org = make_org("Net F", country="US")
    a = make_site("http://a.bank-f.example/", org)
    notice_plan_site(a.pk)
    mail_tick()
    assert smtp.messages == []
    b = make_site("http://b.bank-f.example/", org)
    notice_plan_site(b.pk)
    mail_tick(now=timezone.now() + timedelta(seconds=61))
    assert len(smtp.messages) == 1
    assert "a[.]bank-f" in smtp.messages[0].text and "b[.]bank-f" in smtp.messages[0].text


def test_it_drops_a_site_that_went_down_during_the_window(smtp: SmtpSink, settings: Any) -> None:
    settings.NOTICE_BATCH_WINDOW = 60
    org = make_org("Net G", country="US")
    site = make_site("http://a.bank-g.example/", org)
    notice_plan_site(site.pk)
    site_transition(site, SiteState.DOWN, kind=EventKind.SITE_DOWN)
    mail_tick(now=timezone.now() + timedelta(seconds=61))
    assert smtp.messages == []
    assert Notice.objects.get().state == "cancelled"


def test_it_makes_a_handler_item_when_nobody_can_be_told(smtp: SmtpSink) -> None:
    from takedown.notices.selectors import handler_items

    org = make_org("Net H", country="US", abuse=[])
    site = make_site("http://a.bank-h.example/", org)
    orphan = make_site("http://b.bank-h.example/", None)
    notice_plan_site(site.pk)
    notice_plan_site(orphan.pk)
    mail_tick()  # composed: nobody to send to, the threads are due at once
    mail_tick()  # no registrar, CDN or enabled CSIRT is known: no rung left
    assert smtp.messages == []
    for s in (site, orphan):
        assert Event.objects.filter(site=s, kind=EventKind.NOTICE_NO_CONTACT).exists()
    items = [i for i in handler_items(timezone.now()) if i.reason == "no_contact"]
    assert {i.site_id for i in items} == {site.pk, orphan.pk}
    # Nothing more happens by itself, and the item stays until someone acts.
    mail_tick(now=timezone.now() + timedelta(days=3))
    assert smtp.messages == []
    assert len([i for i in handler_items(timezone.now()) if i.reason == "no_contact"]) == 2


def test_it_escalates_to_the_registrar_of_the_domain(smtp: SmtpSink, settings: Any) -> None:
    from takedown.locate.models import DomainRecord

    settings.NOTICE_MAX_FOLLOWUPS = 0
    _org, site, _root = _send_first(smtp, country="US")
    DomainRecord.objects.create(
        domain=site.registered_domain,
        registrar_name="Example Registrar",
        registrar_abuse=["abuse@registrar.example"],
        expires=timezone.now() + timedelta(days=1),
    )
    mail_tick(now=timezone.now() + timedelta(hours=2))
    escalation = Notice.objects.get(kind=NoticeKind.ESCALATION)
    assert escalation.recipients[0] == "abuse@registrar.example"
    assert smtp.messages[-1].rcpt_tos[0] == "abuse@registrar.example"
    assert "the registrar of the domain" in smtp.messages[-1].text


def test_it_escalates_to_the_cdn_in_front_of_the_site(smtp: SmtpSink, settings: Any) -> None:
    from takedown.locate.models import Location

    settings.NOTICE_MAX_FOLLOWUPS = 0
    org, site, _root = _send_first(smtp, country="US")
    cdn = make_org("Example CDN", country="US", abuse=["abuse@cdn.example"], kind="other")
    Location.objects.create(
        site=site, outcome="located", host=site.host, ip=site.ip, organization=org, cdn=cdn
    )
    mail_tick(now=timezone.now() + timedelta(hours=2))
    escalation = Notice.objects.get(kind=NoticeKind.ESCALATION)
    assert "abuse@cdn.example" in escalation.recipients
    assert "abuse@cdn.example" in smtp.messages[-1].rcpt_tos


def test_it_resends_to_the_next_contact_when_abuse_bounces(smtp: SmtpSink) -> None:
    from takedown.notices.inbound import inbound_receive

    org = make_org("Net N", country="US", abuse=["abuse@net-n.example"])
    org.contact_emails = ["noc@net-n.example", "hostmaster@net-n.example"]
    org.save()
    site = make_site("http://login.bank-n.example/", org)
    notice_plan_site(site.pk)
    mail_tick()
    first = Notice.objects.get()
    dsn = (
        "From: MAILER-DAEMON@mx.net-n.example\r\nTo: takedown@csirt.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nUser unknown\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        "Final-Recipient: rfc822; abuse@net-n.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {first.message_id}\r\n"
        f"Subject: [{first.token}] x\r\n--b--\r\n"
    ).encode()
    inbound_receive(dsn, mail_from="")
    mail_tick()
    assert len(smtp.messages) == 2
    assert smtp.messages[1].rcpt_tos == ["noc@net-n.example", "hostmaster@net-n.example"]
    resend = Notice.objects.get(kind=NoticeKind.RESEND)
    assert resend.parent == first
    assert first.token in smtp.messages[1].message["Subject"]
    assert Event.objects.filter(site=site, kind=EventKind.NOTICE_BOUNCED).count() == 1
    sent = Event.objects.filter(site=site, kind=EventKind.NOTICE_SENT).order_by("pk")
    assert [e.data.get("resend_of") for e in sent] == [None, first.pk]
    # The bounced address is not used for the follow-up either.
    mail_tick(now=timezone.now() + timedelta(hours=2))
    assert smtp.messages[2].rcpt_tos == ["noc@net-n.example", "hostmaster@net-n.example"]
