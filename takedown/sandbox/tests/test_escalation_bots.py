"""Registrars, CSIRT stand-ins and unreachable organisations in the sandbox."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from takedown.sandbox.core import Sandbox
from takedown.sandbox.scenario import (
    CSIRT_BEHAVIOR,
    REGISTRAR_BEHAVIOR,
    ScenarioError,
    parse_scenario,
)
from takedown.sandbox.tests.test_bots import Inbox, inbox, notice  # noqa: F401 - fixture

pytestmark = pytest.mark.concurrency

LADDER = """
name: ladder
duration: 30
registrars:
  - {id: fast-reg, name: Fast Registrar, abuse_email: abuse@fast-reg.example,
     behavior: {reply: always, reply_after: 0.1, takedown_after: 0.3}}
  - {id: idle-reg, name: Idle Registrar, abuse_email: abuse@idle-reg.example,
     behavior: {reply: never, takedown_after: never}}
csirts:
  - {country: DE, name: Sandbox CERT DE, abuse_email: cert@cert-de.example,
     behavior: {reply: always, reply_after: 0.1, takedown_after: 0.3}}
organizations:
  - {id: gone, name: Gone Net, country: DE, kind: overseas, registry: ripe,
     networks: [127.41.0.0/16], asn: 64741, abuse_email: abuse@gone.example,
     behavior: {reply: always, takedown_after: 0.1, takedown: "410", bounce: all}}
  - {id: edge, name: Edge CDN, country: US, kind: overseas, registry: arin, cdn: true,
     networks: [127.42.0.0/16], asn: 64742, abuse_email: abuse@edge-cdn.example}
sites:
  - {id: a, url: "http://login.shop-a.example/", ip: 127.41.0.1, registrar: fast-reg}
  - {id: a2, url: "http://pay.shop-a.example/", ip: 127.41.0.2, registrar: fast-reg}
  - {id: b, url: "http://login.shop-b.example/", ip: 127.41.0.3, registrar: idle-reg}
  - {id: c, url: "http://login.shop-c.example/", ip: 127.42.0.1}
reports: []
"""


def test_it_reads_the_new_parties_and_their_defaults() -> None:
    scenario = parse_scenario(LADDER)
    # A registrar that says nothing acts: the built-in default one.
    assert scenario.registrar("example-registrar").behavior == REGISTRAR_BEHAVIOR
    assert REGISTRAR_BEHAVIOR.takedown == "nxdomain" and REGISTRAR_BEHAVIOR.takedown_after
    idle = scenario.registrar("idle-reg").behavior
    assert idle.takedown_after is None and idle.reply == "never"
    assert idle.takedown == "nxdomain"  # left out: the registrar default
    [csirt] = scenario.csirts
    assert csirt.country == "DE" and csirt.behavior.takedown == CSIRT_BEHAVIOR.takedown
    assert scenario.org("gone").behavior.bounce == "all"
    assert scenario.cdn_asns == {64742: "Edge CDN"}
    assert scenario.party_for_address("cert@cert-de.example") is csirt
    bad = LADDER.replace("takedown_after: 0.3}}\n  - {id: idle", "takedown: '404'}}\n  - {id: idle")
    with pytest.raises(ScenarioError, match=r"registrars\[0\].behavior.takedown"):
        parse_scenario(bad)


def test_it_tells_the_service_which_networks_are_cdns(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    sb = sandbox_factory(LADDER)
    assert sb.env()["TAKEDOWN_CDN_ASNS"] == "64742=Edge CDN"


def test_it_bounces_every_address_of_an_unreachable_organisation(
    sandbox_factory: Callable[..., Sandbox],
    inbox: tuple[Inbox, int],  # noqa: F811
) -> None:
    handler, port = inbox
    sb = sandbox_factory(LADDER, inbound=("127.0.0.1", port))
    notice(sb, ["abuse@gone.example", "noc@gone.example"], "hxxp://login.shop-a[.]example/")
    sb.wait_until(lambda: len(handler.messages) >= 2, timeout=30)
    failed = sorted(
        line.split(";")[1].strip()
        for _, _, dsn in handler.messages
        for line in dsn.as_string().splitlines()
        if line.startswith("Final-Recipient:")
    )
    assert failed == ["abuse@gone.example", "noc@gone.example"]
    # Nobody read it: no reply, no takedown.
    assert sb.site_status("a") == "up"
    assert not sb.bots.decisions


def test_it_lets_a_registrar_suspend_the_whole_domain(
    sandbox_factory: Callable[..., Sandbox],
    inbox: tuple[Inbox, int],  # noqa: F811
) -> None:
    handler, port = inbox
    sb = sandbox_factory(LADDER, inbound=("127.0.0.1", port))
    notice(
        sb,
        ["abuse@fast-reg.example"],
        "Escalation: hxxp://login.shop-a[.]example/ and hxxp://login.shop-b[.]example/",
    )
    sb.wait_until(lambda: sb.site_status("a") == "down" and sb.site_status("a2") == "down")
    assert sb.site("a").style == "nxdomain"
    assert sb.site_status("b") == "up"  # not its domain: another registrar's
    sb.wait_until(lambda: handler.messages)
    _, _, reply = handler.messages[0]
    assert reply["Subject"].startswith("Re: ")
    text = reply.get_content()
    assert "Fast Registrar Abuse Team" in text and "pay[.]shop-a" in text  # the whole domain
    assert sb.escalations[0]["party"] == "registrar:fast-reg"
    assert sb.escalations[0]["sites"] == ["a"]
    assert not sb.notices  # escalations are not counted as notices to the organisation


def test_it_lets_a_csirt_get_the_hoster_to_act_and_an_idle_registrar_do_nothing(
    sandbox_factory: Callable[..., Sandbox],
    inbox: tuple[Inbox, int],  # noqa: F811
) -> None:
    import time

    _, port = inbox
    sb = sandbox_factory(LADDER, inbound=("127.0.0.1", port))
    notice(sb, ["abuse@idle-reg.example"], "hxxp://login.shop-b[.]example/", msgid="<i@x>")
    notice(
        sb,
        ["cert@cert-de.example"],
        "hxxp://login.shop-b[.]example/ hxxp://login.shop-c[.]example/",
        msgid="<c@x>",
    )
    sb.wait_until(lambda: sb.site_status("b") == "down")
    # In the hoster's own style; the US site is not the German CSIRT's to act on.
    assert sb.site("b").style == "410"
    time.sleep(0.5)
    assert sb.site_status("c") == "up"
    assert [e["party"] for e in sb.escalations] == ["registrar:idle-reg", "csirt:DE"]
