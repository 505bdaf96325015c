"""DNS outcomes of the stub resolver against a real DNS server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from takedown.locate.resolver import DnsResult, clear_answers, make_resolver, resolve_host
from takedown.locate.tests.servers import DnsTestServer, SilentUdp

pytestmark = pytest.mark.concurrency

NAMES: dict[str, dict[str, Any]] = {
    "site.test": {"a": ["127.10.0.1"], "aaaa": ["::1"]},
    "v6only.test": {"aaaa": ["2001:db8::1"]},
    "www.alias.test": {"cname": "edge.cdn.test"},
    "edge.cdn.test": {"a": ["127.10.0.2"]},
    "chased.test": {"cname": "edge.cdn.test", "chase": True},
    "loop1.test": {"cname": "loop2.test"},
    "loop2.test": {"cname": "loop1.test"},
    "chasedloop1.test": {"cname": "chasedloop2.test", "chase": True},
    "chasedloop2.test": {"cname": "chasedloop1.test", "chase": True},
    "dangling.test": {"cname": "gone.test"},
    "many.test": {"a": [f"127.20.0.{i}" for i in range(1, 51)]},
    "broken.test": {"rcode": "SERVFAIL"},
    "refused.test": {"rcode": "REFUSED"},
    "textonly.test": {"txt": "v=spf1 -all"},
}


@pytest.fixture
def dns_server(settings: Any) -> Iterator[DnsTestServer]:
    server = DnsTestServer(NAMES).start()
    settings.DNS_RESOLVER = ("127.0.0.1", server.port)
    settings.DNS_TIMEOUT = 2.0
    yield server
    server.stop()


def resolve(host: str) -> DnsResult:
    async def once() -> DnsResult:
        resolver = make_resolver()
        try:
            return await resolve_host(resolver, host)
        finally:
            resolver.close()

    clear_answers()
    return asyncio.run(once())


def test_it_resolves_a_and_aaaa(dns_server: DnsTestServer) -> None:
    result = resolve("site.test")
    assert result.outcome == "ok"
    assert result.addresses == ["127.10.0.1", "::1"]


def test_it_resolves_an_ipv6_only_name(dns_server: DnsTestServer) -> None:
    assert resolve("v6only.test").addresses == ["2001:db8::1"]


def test_it_follows_a_cname_the_server_did_not_chase(dns_server: DnsTestServer) -> None:
    result = resolve("www.alias.test")
    assert result.outcome == "ok"
    assert result.addresses == ["127.10.0.2"]
    assert result.cnames == ["edge.cdn.test"]


def test_it_reads_a_chased_cname_chain(dns_server: DnsTestServer) -> None:
    result = resolve("chased.test")
    assert result.addresses == ["127.10.0.2"]
    assert result.cnames == ["edge.cdn.test"]


@pytest.mark.parametrize("host", ["loop1.test", "chasedloop1.test"])
def test_it_reports_a_cname_loop(dns_server: DnsTestServer, host: str) -> None:
    result = resolve(host)
    assert result.outcome == "cname_loop"
    assert result.addresses == []


def test_it_reports_nxdomain(dns_server: DnsTestServer) -> None:
    result = resolve("nosuch.test")
    assert result.outcome == "nxdomain"


def test_it_reports_a_cname_to_nowhere_as_nxdomain(dns_server: DnsTestServer) -> None:
    assert resolve("dangling.test").outcome == "nxdomain"


@pytest.mark.parametrize("host", ["broken.test", "refused.test"])
def test_it_reports_servfail(dns_server: DnsTestServer, host: str) -> None:
    result = resolve(host)
    assert result.outcome == "servfail"
    assert result.error


def test_it_reports_a_name_without_addresses(dns_server: DnsTestServer) -> None:
    assert resolve("textonly.test").outcome == "no_address"


def test_it_takes_fifty_addresses_over_tcp(dns_server: DnsTestServer) -> None:
    result = resolve("many.test")
    assert result.outcome == "ok"
    assert len(result.addresses) == 50
    assert result.addresses[0] == "127.20.0.1"


def test_it_reports_a_timeout(settings: Any) -> None:
    silent = SilentUdp()
    try:
        settings.DNS_RESOLVER = ("127.0.0.1", silent.port)
        settings.DNS_TIMEOUT = 0.3
        result = resolve("site.test")
    finally:
        silent.close()
    assert result.outcome == "timeout"


@pytest.mark.parametrize("host", ["-bad-.test", "a..b", "x" * 300, "spa ce.test", "ünï.test"])
def test_it_refuses_what_is_not_a_host_name(host: str) -> None:
    assert resolve(host).outcome == "invalid"


@pytest.mark.parametrize(
    ("host", "ip"), [("192.0.2.5", "192.0.2.5"), ("[2001:db8::5]", "2001:db8::5")]
)
def test_it_takes_an_ip_host_as_is(host: str, ip: str) -> None:
    assert resolve(host).addresses == [ip]
