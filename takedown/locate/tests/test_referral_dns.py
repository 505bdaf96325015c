"""Registry servers named in answers (WHOIS referrals, RDAP links and redirects) are
resolved by the configured resolver, the sandbox's DNS here, never the system's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from takedown.locate.clients import (
    Counters,
    RdapClient,
    Refused,
    RegistryUnavailable,
    WhoisClient,
)
from takedown.locate.tests.servers import LoopThread, RegistryServer, rdap_json
from takedown.sandbox.dnsserver import DnsServer, DnsTable

ZONE = "registry.example"  # .example never resolves on the internet (RFC 2606)


@pytest.fixture
def dns(loop_thread: LoopThread, settings: Any) -> Iterator[DnsServer]:
    table = DnsTable()
    table.add_zone(ZONE, "127.0.0.1")
    table.add_address(f"rdap.{ZONE}", "127.0.0.1")
    table.add_address(f"whois.{ZONE}", "127.0.0.1")
    table.add_address(f"lan.{ZONE}", "10.0.0.1")
    table.add_address(f"meta.{ZONE}", "192.0.0.192")
    server = DnsServer(table)
    loop_thread.run(server.start())
    settings.DNS_RESOLVER = ("127.0.0.1", server.port)
    settings.ALLOW_LOOPBACK_TARGETS = True
    yield server
    loop_thread.run(server.stop())


@pytest.fixture
def registry(loop_thread: LoopThread) -> Iterator[RegistryServer]:
    server = RegistryServer(loop_thread)

    async def ok(_request: Any) -> Any:
        return rdap_json({"objectClassName": "ip network", "name": "EXAMPLE"})

    async def moved(_request: Any) -> Any:
        from aiohttp import web

        raise web.HTTPFound(f"http://lan.{ZONE}:{server.port}/ok/ip/1")

    server.route("/ok/ip/1", ok)
    server.route("/moved/ip/1", moved)
    server.start()
    yield server
    server.stop()


def rdap(url: str) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        async with RdapClient.new_session() as session:
            return await RdapClient(session, Counters()).get_json(url, kind="rdap-ip")

    return asyncio.run(go())


def whois(server: str, query: str) -> str:
    return asyncio.run(WhoisClient(Counters()).query(server, query, kind="whois-ip"))


def test_it_reaches_an_rdap_server_known_only_to_the_configured_resolver(
    dns: DnsServer, registry: RegistryServer
) -> None:
    assert rdap(f"http://rdap.{ZONE}:{registry.port}/ok/ip/1")["name"] == "EXAMPLE"


def test_it_follows_a_whois_referral_through_the_configured_resolver(
    dns: DnsServer, registry: RegistryServer
) -> None:
    async def answer(query: str) -> bytes:
        return f"inetnum: 192.0.2.0 - 192.0.2.255\nnetname: ASKED-{query}\n".encode()

    port = registry.whois(answer)
    assert "ASKED-192.0.2.1" in whois(f"whois.{ZONE}:{port}", "192.0.2.1")


@pytest.mark.parametrize("name", ["lan", "meta"])
def test_it_refuses_a_registry_name_that_resolves_to_a_refused_address(
    dns: DnsServer, registry: RegistryServer, name: str
) -> None:
    with pytest.raises(Refused, match="no public address"):
        rdap(f"http://{name}.{ZONE}:{registry.port}/ok/ip/1")
    with pytest.raises(Refused, match="no public address"):
        whois(f"{name}.{ZONE}:43", "192.0.2.1")


def test_it_checks_the_host_of_a_redirect_with_the_same_resolver(
    dns: DnsServer, registry: RegistryServer
) -> None:
    with pytest.raises(Refused, match=f"lan.{ZONE}"):
        rdap(f"http://rdap.{ZONE}:{registry.port}/moved/ip/1")


def test_a_name_the_configured_resolver_does_not_know_fails_clearly(
    dns: DnsServer, registry: RegistryServer
) -> None:
    # "localhost" is in every system's hosts file, but not in the sandbox's DNS.
    with pytest.raises(RegistryUnavailable, match="DNS nxdomain"):
        rdap(f"http://localhost:{registry.port}/ok/ip/1")
