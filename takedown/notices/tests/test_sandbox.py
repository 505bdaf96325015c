"""The notices step against the sandbox's organisations: four behaviours, no duplicates.

The sandbox's relay receives what we send and its bots answer as real abuse
desks do (a human reply, silence, a DSN bounce, a ticket-system auto-reply),
delivering to our real inbound listener.  Locate and monitor are not run here:
the sites are put in place as the locate step leaves them.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from takedown.cases.models import Event, EventKind, SiteState
from takedown.lib.waiting import wait_until
from takedown.notices.models import (
    BadAddress,
    InboundKind,
    InboundMessage,
    Notice,
    NoticeKind,
    NoticeState,
)
from takedown.notices.planning import notice_plan_site
from takedown.notices.tests.conftest import make_org, make_site
from takedown.notices.tick import mail_tick

pytestmark = pytest.mark.concurrency

SCENARIO = """
name: notices-four-desks
duration: 20
seed: 3
organizations:
  - {id: replies, name: Replies Net, country: JP, kind: isp, registry: jpnic,
     networks: [127.21.0.0/16], asn: 65021, abuse_email: abuse@replies.example,
     behavior: {reply: always, reply_after: 0.1}}
  - {id: silent, name: Silent Net, country: US, kind: overseas, registry: arin,
     networks: [127.22.0.0/16], asn: 65022, abuse_email: abuse@silent.example,
     behavior: {reply: never}}
  - {id: bounces, name: Bounce Net, country: DE, kind: overseas, registry: ripe,
     networks: [127.23.0.0/16], asn: 65023, abuse_email: abuse@bounces.example,
     behavior: {reply: never, bounce: true}}
  - {id: auto, name: Auto Net, country: US, kind: overseas, registry: arin,
     networks: [127.24.0.0/16], asn: 65024, abuse_email: abuse@auto.example,
     behavior: {reply: never, auto_reply: true}}
sites:
  - {id: r1, url: "http://login.replies-bank.example/", ip: 127.21.0.1}
  - {id: s1, url: "http://login.silent-bank.example/", ip: 127.22.0.1}
  - {id: b1, url: "http://login.bounce-bank.example/", ip: 127.23.0.1}
  - {id: a1, url: "http://login.auto-bank.example/", ip: 127.24.0.1}
reports: []
"""


def _wait(predicate: Any, what: str, timeout: float = 30) -> None:
    """Wait for the sandbox's desks and our listener, running the mail loop meanwhile."""
    wait_until(predicate, timeout=timeout, interval=0.1, what=what, between=mail_tick)


def test_it_handles_four_kinds_of_abuse_desk(
    sandbox_factory: Any, listener: tuple[str, int], notice_settings: Any
) -> None:
    sb = sandbox_factory(SCENARIO)
    sb.set_inbound(*listener)
    relay_host, relay_port = "127.0.0.1", sb.smtp_port
    notice_settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    notice_settings.EMAIL_HOST, notice_settings.EMAIL_PORT = relay_host, relay_port
    notice_settings.EMAIL_USE_TLS = notice_settings.EMAIL_USE_SSL = False
    notice_settings.EMAIL_HOST_USER = notice_settings.EMAIL_HOST_PASSWORD = ""
    notice_settings.NOTICE_RENOTIFY_AFTER = "1h"
    notice_settings.NOTICE_MAX_FOLLOWUPS = 1

    orgs = {
        key: make_org(name, country=country, abuse=[f"abuse@{key}.example"])
        for key, name, country in [
            ("replies", "Replies Net", "JP"),
            ("silent", "Silent Net", "US"),
            ("bounces", "Bounce Net", "DE"),
            ("auto", "Auto Net", "US"),
        ]
    }
    hosts = {
        "replies": "replies-bank",
        "silent": "silent-bank",
        "bounces": "bounce-bank",
        "auto": "auto-bank",
    }
    sites = {
        key: make_site(f"http://login.{hosts[key]}.example/", org, ip=f"127.2{i + 1}.0.1")
        for i, (key, org) in enumerate(orgs.items())
    }
    for site in sites.values():
        notice_plan_site(site.pk)
    mail_tick()
    _wait(lambda: len(sb.notices) >= 4, "four notices at the relay")
    # The reply, the bounce and the auto-reply reach our listener and are processed.
    _wait(
        lambda: InboundMessage.objects.exclude(kind=InboundKind.PENDING).count() >= 3,
        "the reply, the bounce and the auto-reply processed",
    )

    by_org = {
        key: Notice.objects.get(organization=org, kind=NoticeKind.INITIAL)
        for key, org in orgs.items()
    }
    for notice in by_org.values():
        notice.refresh_from_db()
    assert by_org["replies"].state == NoticeState.REPLIED
    assert (
        Event.objects.get(site=sites["replies"], kind=EventKind.NOTICE_REPLIED).data["human"]
        is True
    )
    assert by_org["silent"].state == NoticeState.SENT
    assert by_org["bounces"].state == NoticeState.BOUNCED
    assert BadAddress.objects.filter(
        organization=orgs["bounces"], address="abuse@bounces.example"
    ).exists()
    assert Event.objects.filter(site=sites["bounces"], kind=EventKind.NOTICE_BOUNCED).exists()
    assert by_org["auto"].state == NoticeState.SENT
    assert Event.objects.filter(site=sites["auto"], kind=EventKind.NOTICE_AUTO_REPLY).count() == 1
    assert not Event.objects.filter(site=sites["auto"], kind=EventKind.NOTICE_REPLIED).exists()
    kinds = Counter(InboundMessage.objects.values_list("kind", flat=True))
    assert kinds == {"reply": 1, "bounce": 1, "auto_reply": 1}

    # The deadline passes with every site still up: one follow-up each, except
    # to the desk whose only address bounced; then escalation has nowhere to go.
    later = timezone.now() + timedelta(hours=1, minutes=1)
    mail_tick(now=later)
    mail_tick(now=later + timedelta(hours=1, minutes=1))
    _wait(lambda: len(sb.notices) >= 7, "three follow-ups at the relay")
    # The answers to the follow-ups (a reply and an auto-reply) are processed
    # before the counts below are taken.
    _wait(
        lambda: InboundMessage.objects.exclude(kind=InboundKind.PENDING).count() >= 5,
        "the answers to the follow-ups processed",
    )
    mail_tick()
    followups = Notice.objects.filter(kind=NoticeKind.FOLLOWUP)
    assert {
        n.organization_id
        for n in followups.filter(state__in=[NoticeState.SENT, NoticeState.REPLIED])
    } == {orgs[k].pk for k in ("replies", "silent", "auto")}
    assert Event.objects.filter(site=sites["bounces"], kind=EventKind.NOTICE_NO_CONTACT).exists()
    for key in ("replies", "silent", "auto"):
        assert Event.objects.filter(site=sites[key], kind=EventKind.NOTICE_FOLLOWUP).count() == 1
        assert Event.objects.filter(site=sites[key], kind=EventKind.NOTICE_SENT).count() == 1
        sites[key].refresh_from_db()
        assert sites[key].state == SiteState.NOTIFIED

    # Zero duplicates: every message the relay got is distinct, one initial
    # notice and one follow-up per reachable desk.
    ids = [m.message_id for m in sb.outbox]
    assert len(ids) == len(set(ids))
    per_address = Counter(r for m in sb.outbox for r in m.rcpt_tos)
    assert per_address == {
        "abuse@replies.example": 2,
        "abuse@silent.example": 2,
        "abuse@auto.example": 2,
        "abuse@bounces.example": 1,
    }


VERP_SCENARIO = """
name: notices-verp
duration: 20
seed: 5
organizations:
  - {id: alias, name: Alias Net, country: DE, kind: overseas, registry: ripe,
     networks: [127.25.0.0/16], asn: 65025, abuse_email: abuse@alias.example,
     behavior: {reply: never, bounce: true, bounce_names: noc@alias.example}}
sites:
  - {id: v1, url: "http://login.alias-bank.example/", ip: 127.25.0.1}
reports: []
"""


def test_a_bounce_through_the_relay_marks_the_recipient_its_envelope_names(
    sandbox_factory: Any, listener: tuple[str, int], notice_settings: Any
) -> None:
    """The relay's DSN names noc@ (an alias's mailbox) but answers abuse@'s copy."""
    sb = sandbox_factory(VERP_SCENARIO)
    sb.set_inbound(*listener)
    notice_settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    notice_settings.EMAIL_HOST, notice_settings.EMAIL_PORT = "127.0.0.1", sb.smtp_port
    notice_settings.EMAIL_USE_TLS = notice_settings.EMAIL_USE_SSL = False
    notice_settings.EMAIL_HOST_USER = notice_settings.EMAIL_HOST_PASSWORD = ""
    notice_settings.NOTICE_BOUNCE_DOMAIN = "bounces.csirt.example"

    org = make_org("Alias Net", country="DE", abuse=["abuse@alias.example", "noc@alias.example"])
    site = make_site("http://login.alias-bank.example/", org, ip="127.25.0.1")
    notice_plan_site(site.pk)
    _wait(
        lambda: InboundMessage.objects.filter(kind=InboundKind.BOUNCE).exists(),
        "the relay's bounce processed",
    )

    notice = Notice.objects.get(organization=org, kind=NoticeKind.INITIAL)
    copies = {m.rcpt_tos[0]: m.mail_from for m in sb.outbox}
    assert sorted(copies) == ["abuse@alias.example", "noc@alias.example"]
    assert all(sender.endswith("@bounces.csirt.example") for sender in copies.values())
    bounce = InboundMessage.objects.get(kind=InboundKind.BOUNCE)
    assert bounce.rcpt_to == [copies["abuse@alias.example"]]
    assert bounce.details["failed_recipients"] == ["noc@alias.example"]  # what the body says
    assert list(BadAddress.objects.values_list("address", flat=True)) == ["abuse@alias.example"]
    notice.refresh_from_db()
    assert notice.state == NoticeState.BOUNCED
