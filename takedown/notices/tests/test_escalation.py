"""The escalation ladder: organisation -> registrar -> CDN -> national CSIRT -> a handler.

A thread climbs at once when its current rung reaches nobody (every address
bounced, or none is known) and after its deadline when the sites are still
up.  Bounces here are our real SMTP server refusing the recipient (handled
like a DSN) or a DSN through ``inbound_receive``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from takedown.cases.models import Event, EventKind, Site, SiteState
from takedown.locate.models import DomainRecord, Location, Organization
from takedown.notices.escalation import notices_process_deadlines
from takedown.notices.inbound import inbound_receive
from takedown.notices.models import CountryCSIRT, Notice, NoticeKind, NoticeState, Rung, Stall
from takedown.notices.planning import notice_plan_site
from takedown.notices.selectors import handler_items
from takedown.notices.tests.conftest import SmtpSink, make_org, make_site
from takedown.notices.tick import mail_tick

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db]

REFUSED = "550 5.1.1 <{}>: Recipient address rejected: User unknown"


def _parties(site: Site, org: Organization | None, *, cdn: bool = True) -> None:
    """What the locate step records: the registrar of the domain and a CDN in front."""
    registrar = make_org("Example Registrar", country="US", abuse=["abuse@registrar.example"])
    DomainRecord.objects.create(
        domain=site.registered_domain,
        registrar=registrar,
        registrar_name=registrar.name,
        registrar_abuse=["abuse@registrar.example"],
        expires=timezone.now() + timedelta(days=1),
    )
    Location.objects.create(
        site=site,
        outcome="located",
        host=site.host,
        ip=site.ip,
        organization=org,
        registrar=registrar,
        cdn=make_org("Example CDN", country="US", abuse=["abuse@cdn.example"]) if cdn else None,
    )


def _enable_csirt(country: str, email: str) -> None:
    CountryCSIRT.objects.filter(country=country).update(enabled=True, email=email)


def _refuse(smtp: SmtpSink, *addresses: str) -> None:
    for address in addresses:
        smtp.handler.reject_rcpt[address] = REFUSED.format(address)


def _items(reason: str) -> list[Any]:
    return [i for i in handler_items(timezone.now()) if i.reason == reason]


def test_it_tells_the_registrar_at_once_when_the_only_address_bounces(smtp: SmtpSink) -> None:
    org = make_org("Net R", country="DE", abuse=["abuse@net-r.example"])
    site = make_site("http://login.bank-r.example/", org)
    _parties(site, org, cdn=False)
    _refuse(smtp, "abuse@net-r.example")
    notice_plan_site(site.pk)
    mail_tick()  # the first notice is refused: a bounce of the only address
    mail_tick()  # the thread is due at once: the registrar is next
    assert [m.rcpt_tos for m in smtp.messages] == [["abuse@registrar.example"]]
    escalation = Notice.objects.get(kind=NoticeKind.ESCALATION)
    assert escalation.rung == Rung.REGISTRAR and escalation.state == NoticeState.SENT
    assert escalation.cc == []  # nobody at the organisation to copy
    text = smtp.messages[0].text
    assert "could not reach Net R" in text and "suspending the domain" in text
    assert escalation.root.token in smtp.messages[0].message["Subject"]
    event = Event.objects.get(site=site, kind=EventKind.NOTICE_ESCALATED)
    assert event.data["rung"] == "registrar"
    site.refresh_from_db()
    assert site.state == SiteState.NOTIFIED
    assert _items("no_contact") == []


def test_it_climbs_every_rung_that_bounces_then_asks_a_handler(smtp: SmtpSink) -> None:
    org = make_org("Net S", country="DE", abuse=[])  # publishes no address at all
    site = make_site("http://login.bank-s.example/", org)
    _parties(site, org)
    _enable_csirt("DE", "certbund@csirt-de.example")
    _refuse(smtp, "abuse@registrar.example", "abuse@cdn.example", "certbund@csirt-de.example")
    notice_plan_site(site.pk)
    for _round in range(6):
        mail_tick()
    rungs = list(
        Notice.objects.filter(kind=NoticeKind.ESCALATION)
        .order_by("pk")
        .values_list("rung", "state")
    )
    assert rungs == [("registrar", "bounced"), ("cdn", "bounced"), ("csirt", "bounced")]
    root = Notice.objects.get(kind=NoticeKind.INITIAL)
    assert root.state == NoticeState.NO_CONTACT and root.stalled == Stall.NO_CONTACT
    [item] = _items("no_contact")
    assert (item.site_id, item.notice_id) == (site.pk, root.pk)
    # Each rung was tried once: nothing is sent again by itself.
    mail_tick(now=timezone.now() + timedelta(days=5))
    assert Notice.objects.filter(kind=NoticeKind.ESCALATION).count() == 3


def test_it_escalates_a_site_still_up_rung_by_rung(smtp: SmtpSink, settings: Any) -> None:
    settings.NOTICE_MAX_FOLLOWUPS = 1
    org = make_org("Net T", country="DE", abuse=["abuse@net-t.example"])
    site = make_site("http://login.bank-t.example/", org)
    _parties(site, org, cdn=False)
    _enable_csirt("DE", "certbund@csirt-de.example")
    notice_plan_site(site.pk)
    mail_tick()
    now = timezone.now()
    for hours in (2, 4, 6, 8):
        mail_tick(now=now + timedelta(hours=hours))
    sent = [(m.rcpt_tos, m.message["Subject"]) for m in smtp.messages]
    assert [rcpts for rcpts, _ in sent] == [
        ["abuse@net-t.example"],
        ["abuse@net-t.example"],  # the follow-up
        ["abuse@registrar.example", "abuse@net-t.example"],  # the organisation in Cc
        ["certbund@csirt-de.example", "abuse@net-t.example"],
    ]
    assert "Follow-up 1" in sent[1][1] and "Escalation" in sent[2][1]
    assert "are still up" in smtp.messages[2].text
    root = Notice.objects.get(kind=NoticeKind.INITIAL)
    assert root.rung == Rung.CSIRT and root.stalled == Stall.STILL_UP
    assert root.stalled == Stall.STILL_UP
    [item] = _items("still_up")
    assert item.site_id == site.pk
    assert Event.objects.filter(site=site, kind=EventKind.NOTICE_STILL_UP).count() == 1
    # The site goes down: the item goes away with it.
    Site.objects.filter(pk=site.pk).update(state=SiteState.DOWN)
    assert _items("still_up") == []


def test_it_skips_a_disabled_csirt_and_a_cdn_that_is_the_organisation(
    smtp: SmtpSink, settings: Any
) -> None:
    settings.NOTICE_MAX_FOLLOWUPS = 0
    org = make_org("Cloudy CDN", country="US", abuse=["abuse@cloudy.example"])
    site = make_site("http://login.bank-u.example/", org)
    Location.objects.create(
        site=site, outcome="located", host=site.host, ip=site.ip, organization=org, cdn=org
    )
    CountryCSIRT.objects.filter(country="US").update(enabled=False, email="report@us-cert.example")
    notice_plan_site(site.pk)
    mail_tick()
    mail_tick(now=timezone.now() + timedelta(hours=2))
    assert len(smtp.messages) == 1  # no second rung to go to
    assert Notice.objects.get(kind=NoticeKind.INITIAL).stalled == Stall.STILL_UP
    assert not Notice.objects.filter(kind=NoticeKind.ESCALATION).exists()


def test_it_matches_a_real_dsn_and_climbs(smtp: SmtpSink) -> None:
    from takedown.sandbox.mail import build_dsn

    org = make_org("Net V", country="US", abuse=["abuse@net-v.example"])
    site = make_site("http://login.bank-v.example/", org)
    _parties(site, org, cdn=False)
    notice_plan_site(site.pk)
    mail_tick()
    [first] = smtp.messages
    dsn = build_dsn(
        first.raw,
        envelope_from=first.mail_from,
        failed_rcpt="abuse@net-v.example",
        remote_mta="mail.net-v.example",
        arrival=timezone.now(),
    )
    inbound = inbound_receive(dsn, mail_from="")
    assert inbound.kind == "bounce"
    mail_tick()
    assert smtp.messages[-1].rcpt_tos == ["abuse@registrar.example"]


def test_it_takes_a_deadline_up_again_when_the_worker_died_on_it(
    smtp: SmtpSink, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from takedown.notices import escalation

    org = make_org("Net W", country="US", abuse=["abuse@net-w.example"])
    site = make_site("http://login.bank-w.example/", org)
    notice_plan_site(site.pk)
    mail_tick()
    later = timezone.now() + timedelta(hours=2)

    def crash(root: Notice) -> None:
        raise RuntimeError("the worker died here")

    monkeypatch.setattr(escalation, "notice_deadline_passed", crash)
    assert notices_process_deadlines(now=later) == 0
    monkeypatch.undo()
    root = Notice.objects.get(kind=NoticeKind.INITIAL)
    assert root.next_deadline is not None  # held for a while, not lost
    assert notices_process_deadlines(now=later) == 0  # still held
    mail_tick(now=root.next_deadline + timedelta(seconds=1))
    assert len(smtp.messages) == 2
    assert Notice.objects.filter(kind=NoticeKind.FOLLOWUP).count() == 1
