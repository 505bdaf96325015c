"""The issue's bad input, each against a real server on loopback: every case ends
as a recorded outcome (unresolvable, or located with the failure noted), a retry
is scheduled for failures, and the worker's step returns normally."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from django.utils import timezone

from takedown.cases.models import Event, EventKind, Site, SiteState, Step, Work
from takedown.cases.services import sites_create_bulk
from takedown.locate.models import Location
from takedown.locate.services import sites_locate
from takedown.locate.tests.servers import (
    DnsTestServer,
    LoopThread,
    RegistryServer,
    bootstrap_docs,
    rdap_json,
)
from takedown.loop import run_round

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db]

NAMES: dict[str, dict[str, Any]] = {
    "r500.test": {"a": ["127.50.0.1"]},  # RDAP 500, WHOIS garbage
    "badjson.test": {"a": ["127.51.0.1"]},  # malformed RDAP JSON, WHOIS hangs
    "noent.test": {"a": ["127.52.0.1"]},  # RDAP with no entities, WHOIS has the abuse address
    "r500ok.test": {"a": ["127.53.0.1"]},  # RDAP 500, WHOIS answers
    "many.test": {"a": [f"127.54.0.{i}" for i in range(1, 51)]},
    "loop1.test": {"cname": "loop2.test"},
    "loop2.test": {"cname": "loop1.test"},
    "private.test": {"a": ["10.0.0.1"]},
    "mixed.test": {"a": ["10.0.0.1", "169.254.169.254", "127.54.0.99"]},
    "broken.test": {"rcode": "SERVFAIL"},
}

GOOD_NETWORK = {
    "objectClassName": "ip network",
    "handle": "NET-127-54",
    "startAddress": "127.54.0.0",
    "endAddress": "127.54.255.255",
    "name": "GOOD-NET",
    "country": "DE",
    "entities": [
        {
            "handle": "ORG-GOOD",
            "roles": ["registrant"],
            "vcardArray": [
                "vcard",
                [["fn", {}, "text", "Good Hosting GmbH"], ["kind", {}, "text", "org"]],
            ],
        },
        {
            "handle": "AB-GOOD",
            "roles": ["abuse"],
            "vcardArray": ["vcard", [["email", {}, "text", "abuse@good.example"]]],
        },
    ],
}

RPSL = """% This is the RIPE Database query service.

inetnum:        {net}.0.0 - {net}.255.255
netname:        WHOIS-NET
descr:          Whois Net Ltd
country:        GB
remarks:        please send abuse reports to abuse@{name}.example
source:         RIPE
"""


@pytest.fixture
def world(settings: Any, loop_thread: LoopThread) -> Iterator[RegistryServer]:
    dns = DnsTestServer(NAMES).start()
    server = RegistryServer(loop_thread)
    networks = {
        "127.50.0.0/16": "r500/",
        "127.51.0.0/16": "badjson/",
        "127.52.0.0/16": "noent/",
        "127.53.0.0/16": "r500/",
        "127.54.0.0/16": "good/",
    }

    async def boot(request: web.Request) -> web.Response:
        name = request.match_info["file"].removesuffix(".json")
        docs = bootstrap_docs(server.base, [])
        docs["ipv4"]["services"] = [[[n], [server.base + p]] for n, p in networks.items()]
        return web.json_response(docs.get(name, {}))

    async def r500(request: web.Request) -> web.Response:
        return web.Response(status=500, text="oops")

    async def badjson(request: web.Request) -> web.Response:
        return web.Response(
            text='{"objectClassName": "ip network", "entities": [',
            content_type="application/rdap+json",
        )

    async def noent(request: web.Request) -> web.Response:
        return rdap_json(
            {
                "objectClassName": "ip network",
                "startAddress": "127.52.0.0",
                "endAddress": "127.52.255.255",
                "name": "NOENT-NET",
            }
        )

    async def good(request: web.Request) -> web.Response:
        return rdap_json(GOOD_NETWORK)

    server.route("/bootstrap/{file}", boot)
    server.route("/r500/ip/{q}", r500)
    server.route("/badjson/ip/{q}", badjson)
    server.route("/noent/ip/{q}", noent)
    server.route("/good/ip/{q}", good)
    server.start()

    async def whois(query: str) -> bytes | None:
        if query.startswith("127.50."):
            return b"\x00\xff garbage \x01 \n::::\n"
        if query.startswith("127.51."):
            return None  # hangs
        if query.startswith(("127.52.", "127.53.")):
            net = query.rsplit(".", 2)[0]
            name = "noent" if query.startswith("127.52.") else "r500ok"
            return RPSL.format(net=net, name=name).encode()
        return b"%ERROR:101: no entries found\n"

    port = server.whois(whois)
    settings.DNS_RESOLVER = ("127.0.0.1", dns.port)
    settings.RDAP_BOOTSTRAP_URL = server.base + "bootstrap/"
    settings.WHOIS_SERVER = ("127.0.0.1", port)
    settings.REGISTRY_TIMEOUT = 1.0
    settings.DNS_TIMEOUT = 1.0
    yield server
    server.stop()
    dns.stop()


def sites(*hosts: str) -> dict[str, Site]:
    rows = [{"url": f"http://{h}/x", "host": h, "registered_domain": h} for h in hosts]
    by_url = sites_create_bulk(rows)
    return {h: by_url[f"http://{h}/x"] for h in hosts}


def failed_event(site: Site) -> Event:
    return Event.objects.filter(site=site, kind=EventKind.LOCATE_FAILED).latest("id")


def test_each_bad_input_has_a_clear_outcome(world: RegistryServer) -> None:
    hosts = [*NAMES, "nosuch.test"]
    hosts.remove("loop2.test")
    by_host = sites(*hosts)
    # The worker finds every new site's locate step and runs them as one batch.
    assert run_round(steps=[Step.LOCATE]) == len(by_host)
    for site in by_host.values():
        site.refresh_from_db()
    located = {s.pk for s in by_host.values() if s.state == SiteState.LOCATED}
    assert (
        set(Work.objects.filter(step=Step.FIRST_CHECK).values_list("site_id", flat=True)) == located
    )

    def reason(host: str) -> str:
        return failed_event(by_host[host]).message

    unresolvable = {h for h, s in by_host.items() if s.state == SiteState.UNRESOLVABLE}
    assert unresolvable == {
        "r500.test",
        "badjson.test",
        "loop1.test",
        "private.test",
        "broken.test",
        "nosuch.test",
    }
    assert "HTTP 500" in reason("r500.test")
    assert "not JSON" in failed_event(by_host["badjson.test"]).data["errors"][0]
    assert "timed out" in reason("badjson.test")
    assert reason("loop1.test").startswith("DNS: cname_loop")
    assert reason("private.test").startswith("resolves only to addresses that are not public")
    assert "10.0.0.1 is in 10.0.0.0/8 (Private-Use, RFC 1918)" in reason("private.test")
    assert reason("broken.test").startswith("DNS: servfail")
    assert reason("nosuch.test").startswith("DNS: nxdomain")
    assert failed_event(by_host["nosuch.test"]).data["outcome"] == "nxdomain"

    # Partial data, the failure noted: RDAP gave no abuse contact (or failed),
    # WHOIS filled in.
    noent = Location.objects.filter(site=by_host["noent.test"]).latest()
    assert noent.outcome == "located" and noent.abuse == ["abuse@noent.example"]
    r500ok = Location.objects.filter(site=by_host["r500ok.test"]).latest()
    assert r500ok.abuse == ["abuse@r500ok.example"]
    assert any("HTTP 500" in e for e in r500ok.errors)
    assert r500ok.organization is not None and r500ok.organization.name == "Whois Net Ltd"

    many = Location.objects.filter(site=by_host["many.test"]).latest()
    assert many.outcome == "located" and len(many.ips) == 50 and many.ip == "127.54.0.1"
    assert many.organization is not None and many.organization.name == "Good Hosting GmbH"
    mixed = Location.objects.filter(site=by_host["mixed.test"]).latest()
    assert mixed.ip == "127.54.0.99"
    refused = {r["ip"] for r in mixed.data["refused_addresses"]}
    assert refused == {"10.0.0.1", "169.254.169.254"}

    # One registry query per network, however the hosts were spread.
    assert world.hits["/good/ip/127.54.0.1"] + world.hits["/good/ip/127.54.0.99"] == 1

    # Every failure has its retry waiting, and nothing else is left to locate.
    retries = Work.objects.filter(step=Step.LOCATE)
    assert set(retries.values_list("site_id", flat=True)) == {by_host[h].pk for h in unresolvable}
    assert all(w.due is not None and w.due > timezone.now() for w in retries)
    assert all(failed_event(by_host[h]).data["retry_at"] for h in unresolvable)


def test_a_retry_records_another_attempt_then_locates(world: RegistryServer, settings: Any) -> None:
    by_host = sites("nosuch.test")
    site = by_host["nosuch.test"]
    sites_locate([site.pk])
    sites_locate([site.pk])
    site.refresh_from_db()
    assert site.state == SiteState.UNRESOLVABLE
    attempts = [
        e.data["attempt"] for e in Event.objects.filter(site=site, kind=EventKind.LOCATE_FAILED)
    ]
    assert attempts == [1, 2]
    # Only one state change: the second failure is an event without a transition.
    assert Event.objects.filter(site=site, to_state=SiteState.UNRESOLVABLE).count() == 1

    # The name appears (e.g. the attacker's DNS was late): the retry locates it.
    NAMES["nosuch.test"] = {"a": ["127.54.0.7"]}
    try:
        sites_locate([site.pk])
    finally:
        del NAMES["nosuch.test"]
    site.refresh_from_db()
    assert site.state == SiteState.LOCATED
    assert site.organization is not None and site.organization.name == "Good Hosting GmbH"


def test_it_stops_retrying_after_the_last_delay(world: RegistryServer, settings: Any) -> None:
    settings.LOCATE_RETRY_DELAYS = [60]
    site = sites("nosuch.test")["nosuch.test"]
    sites_locate([site.pk])
    sites_locate([site.pk])
    last = failed_event(site)
    assert last.data["retry_at"] is None
    assert "no further automatic retries" in last.message
