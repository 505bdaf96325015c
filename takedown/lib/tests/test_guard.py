"""The address guard: IANA's special-purpose blocks refused by the fetcher and by locate."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from typing import Any

import pytest

from takedown.lib import guard, iana_special
from takedown.lib.fetch import Fetcher, FetchPolicy, FetchResult
from takedown.lib.testdata import require_shared
from takedown.locate.addresses import address_refusal as locate_refusal
from takedown.locate.engine import Locator
from takedown.locate.resolver import DnsResult

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)

# One address inside every block that must be refused, picked by hand from the
# registries (and the deprecated site-local block); the test below checks that
# this list covers every refused block of the shipped data.
REFUSED = {
    "0.0.0.0/8": "0.1.2.3",
    "0.0.0.0/32": "0.0.0.0",  # noqa: S104 - an address under test, not a bind
    "10.0.0.0/8": "10.20.30.40",
    "100.64.0.0/10": "100.100.100.200",  # a cloud metadata address
    "127.0.0.0/8": "127.0.0.2",
    "169.254.0.0/16": "169.254.169.254",
    "172.16.0.0/12": "172.31.255.254",
    "192.0.0.0/24": "192.0.0.192",  # a cloud metadata address; Python calls it global
    "192.0.0.0/29": "192.0.0.1",
    "192.0.0.8/32": "192.0.0.8",
    "192.0.0.170/32": "192.0.0.170",
    "192.0.0.171/32": "192.0.0.171",
    "192.0.2.0/24": "192.0.2.10",
    "192.88.99.0/24": "192.88.99.1",  # terminated: no "Globally Reachable" at all
    "192.168.0.0/16": "192.168.1.1",
    "198.18.0.0/15": "198.19.0.1",
    "198.51.100.0/24": "198.51.100.7",
    "203.0.113.0/24": "203.0.113.9",
    "240.0.0.0/4": "250.1.2.3",
    "255.255.255.255/32": "255.255.255.255",
    "::1/128": "::1",
    "::/128": "::",
    "::ffff:0:0/96": "::ffff:8.8.8.8",
    "64:ff9b:1::/48": "64:ff9b:1::1",
    "100::/64": "100::1",
    "2001::/23": "2001:100::1",
    "2001::/32": "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo: N/A
    "2001:2::/48": "2001:2::1",
    "2001:10::/28": "2001:10::1",  # terminated ORCHID
    "2001:db8::/32": "2001:db8::1",
    "2002::/16": "2002:808:808::1",  # 6to4: N/A, even around a public address
    "fc00::/7": "fd12:3456::1",
    "fe80::/10": "fe80::1",
    "3fff::/20": "3fff:fff::1",
    "5f00::/16": "5f00::1",
    "fec0::/10": "fec0::1",  # deprecated site-local; Python calls it global
    "224.0.0.0/4": "239.255.255.250",
    "ff00::/8": "ff02::1",
}
# Inside special-purpose blocks but globally reachable (the more specific entry wins).
ALLOWED = [
    "192.0.0.9",
    "192.0.0.10",
    "192.31.196.1",
    "192.52.193.1",
    "192.175.48.1",
    "64:ff9b::808:808",
    "2001:1::1",
    "2001:1::2",
    "2001:3::1",
    "2001:4:112::1",
    "2001:20::1",
    "2620:4f:8000::1",
    "8.8.8.8",
    "2001:4860:4860::8888",
]


def fetch(url: str, policy: FetchPolicy) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(policy) as f:
            return await f.fetch(url)

    return asyncio.run(go())


def literal(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def test_the_shipped_ranges_are_what_iana_publishes() -> None:
    folder = require_shared("data/iana")
    shipped = json.loads(iana_special.OUTPUT.read_text(encoding="utf-8"))
    assert shipped == iana_special.build(folder)
    assert iana_special.render(shipped) == iana_special.OUTPUT.read_text(encoding="utf-8")
    assert guard.registry().ipv4_updated == "2021-02-04"
    assert guard.registry().ipv6_updated == "2019-09-13"


def test_it_has_a_case_for_every_refused_block() -> None:
    refused = {str(b.network) for b in guard.registry().blocks if b.reachable is not True}
    assert refused == set(REFUSED)
    for prefix, ip in REFUSED.items():
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(prefix), prefix


@pytest.mark.parametrize("prefix", sorted(REFUSED))
def test_it_refuses_each_special_purpose_block_in_the_fetcher(prefix: str) -> None:
    ip = REFUSED[prefix]
    policy = FetchPolicy(allow_networks=LOOPBACK if prefix != "127.0.0.0/8" else ())
    result = fetch(f"http://{literal(ip)}/", policy)
    assert result.error == "blocked", (ip, result.error, result.detail)
    assert policy.refusal(ip) is not None


@pytest.mark.parametrize("prefix", sorted(REFUSED))
def test_it_refuses_each_special_purpose_block_in_locate(prefix: str, settings: Any) -> None:
    settings.ALLOW_LOOPBACK_TARGETS = prefix not in ("127.0.0.0/8", "::1/128")
    ip = REFUSED[prefix]
    chosen, refused = Locator(registrar=False).chosen_address(DnsResult("x.example", "ok", [ip]))
    assert chosen is None
    assert refused == [(ip, locate_refusal(ip))]
    assert refused[0][1] is not None


@pytest.mark.parametrize("ip", ALLOWED)
def test_it_allows_globally_reachable_addresses(ip: str, settings: Any) -> None:
    settings.ALLOW_LOOPBACK_TARGETS = False
    assert guard.address_refusal(ip) is None
    assert locate_refusal(ip) is None


def test_it_names_the_block_and_its_rfc() -> None:
    assert guard.address_refusal("192.0.0.192") == (
        "192.0.0.192 is in 192.0.0.0/24 (IETF Protocol Assignments, RFC 6890): "
        "not globally reachable"
    )
    assert "TEREDO" in (guard.address_refusal("2001::1") or "")


def test_it_refuses_a_nat64_address_around_a_refused_one() -> None:
    assert guard.address_refusal("64:ff9b::a9fe:a9fe") is not None  # 169.254.169.254
    assert guard.address_refusal("64:ff9b::c000:c0") is not None  # 192.0.0.192


def test_it_refuses_ipv6_outside_the_global_unicast_space() -> None:
    assert guard.address_refusal("4000::1") is not None
    assert guard.address_refusal("::8.8.8.8") is not None  # IPv4-compatible, deprecated


def test_the_fetcher_keeps_loopback_opt_in_but_never_127_0_0_1() -> None:
    assert guard.address_refusal("127.0.0.2", LOOPBACK) is None
    assert guard.address_refusal("127.0.0.1", LOOPBACK) == "127.0.0.1 is this host's own address"
    assert guard.address_refusal("::ffff:127.0.0.2", LOOPBACK) is not None


def test_locate_reaches_the_sandbox_registries_on_127_0_0_1_only_when_opted_in(
    settings: Any,
) -> None:
    settings.ALLOW_LOOPBACK_TARGETS = True
    assert locate_refusal("127.0.0.1") is None
    assert locate_refusal("::1") is None
    assert locate_refusal("10.0.0.1") is not None
    settings.ALLOW_LOOPBACK_TARGETS = False
    assert locate_refusal("127.0.0.1") is not None


def test_the_generator_writes_the_file_it_was_asked_for(tmp_path: Any) -> None:
    folder = require_shared("data/iana")
    doc = iana_special.build(folder)
    assert doc["later_additions"] == ["3fff::/20 (RFC 9637)", "5f00::/16 (RFC 9602)"]
    prefixes = [b["prefix"] for b in doc["blocks"]]
    assert len(prefixes) == len(set(prefixes))
    assert iana_special.main(["/nonexistent"]) == 1
