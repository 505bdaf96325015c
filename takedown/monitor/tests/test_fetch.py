"""The safe fetcher against a real hostile farm and a real DNS server on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import socket
import time

import pytest

from takedown.lib.fetch import (
    MOBILE_UA,
    Fetcher,
    FetchFailure,
    FetchPolicy,
    FetchResult,
    SafeResolver,
    address_refusal,
    guarded_socket_factory,
)
from takedown.monitor.tests.farm import BRAND, FARM_IP, MALWARE, ZONE, Farm

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


def fetch(policy: FetchPolicy, url: str, **kwargs: object) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(policy) as f:
            return await f.fetch(url, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(go())


def fetch_many(policy: FetchPolicy, urls: list[str]) -> list[FetchResult]:
    async def go() -> list[FetchResult]:
        async with Fetcher(policy) as f:
            return [await f.fetch(u) for u in urls]

    return asyncio.run(go())


# --- the address rules -------------------------------------------------------------


@pytest.mark.parametrize(
    "ip",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "127.0.0.2",
        "169.254.169.254",
        "224.0.0.1",
        "240.0.0.1",
        "0.0.0.0",  # noqa: S104
        "100.64.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:8.8.8.8",
        "::ffff:127.0.0.2",
        "2002:0a00:0001::1",
    ],
)
def test_it_refuses_non_public_addresses_by_default(ip: str) -> None:
    assert address_refusal(ip) is not None


@pytest.mark.parametrize("ip", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "203.0.114.1"])
def test_it_accepts_public_addresses(ip: str) -> None:
    assert address_refusal(ip) is None


def test_it_allows_loopback_only_when_opted_in_and_never_127_0_0_1() -> None:
    assert address_refusal("127.0.0.2") is not None
    assert address_refusal("127.0.0.2", LOOPBACK) is None
    assert address_refusal("127.1.0.10", LOOPBACK) is None
    assert address_refusal("127.0.0.1", LOOPBACK) is not None
    assert address_refusal("0.0.0.0", LOOPBACK) is not None  # noqa: S104
    assert address_refusal("::ffff:127.0.0.2", LOOPBACK) is not None
    assert address_refusal("10.0.0.1", LOOPBACK) is not None


def test_it_refuses_to_open_sockets_to_refused_addresses() -> None:
    factory = guarded_socket_factory(FetchPolicy(allow_networks=LOOPBACK))
    addr_info = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 80))
    with pytest.raises(FetchFailure) as info:
        factory(addr_info)
    assert info.value.kind == "blocked"
    sock = factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", (FARM_IP, 80)))
    sock.close()


def test_it_drops_refused_answers_in_the_resolver(farm: Farm, policy: FetchPolicy) -> None:
    async def go() -> tuple[list[str], str]:
        resolver = SafeResolver(policy)
        mixed = [r["host"] for r in await resolver.resolve(f"mixed.{ZONE}", 80)]
        try:
            await resolver.resolve(f"lan.{ZONE}", 80)
        except FetchFailure as exc:
            return mixed, exc.kind
        return mixed, "resolved"

    mixed, lan = asyncio.run(go())
    assert mixed == [FARM_IP]
    assert lan == "blocked"


# --- fetching ------------------------------------------------------------------------


def test_it_fetches_a_page_through_our_resolver_on_the_mapped_port(
    farm: Farm, policy: FetchPolicy
) -> None:
    r = fetch(policy, f"http://login.{ZONE}/")
    assert r.error is None
    assert r.status == 200
    assert r.ip == FARM_IP
    assert BRAND.encode() in r.body
    assert r.final_url == f"http://login.{ZONE}/"
    # The Host header names the site as in the URL, without the sandbox port.
    assert farm.seen_headers[-1]["Host"] == f"login.{ZONE}"
    assert "Chrome/" in farm.seen_headers[-1]["User-Agent"]


def test_it_never_sends_the_user_information_of_a_url(farm: Farm, policy: FetchPolicy) -> None:
    r = fetch(policy, f"http://bank.example:secret@login.{ZONE}/userinfo")
    assert r.status == 200
    assert "Authorization" not in farm.seen_headers[-1]
    assert farm.seen_headers[-1]["Host"] == f"login.{ZONE}"


def test_it_refuses_loopback_unless_allowed(farm: Farm, policy: FetchPolicy) -> None:
    before = farm.hits["/"]
    r = fetch(dataclasses.replace(policy, allow_networks=()), f"http://login.{ZONE}/")
    assert r.error == "blocked"
    assert farm.hits["/"] == before


@pytest.mark.parametrize("name", ["lan", "meta", "self", "zero", "mapped"])
def test_it_refuses_names_resolving_to_refused_addresses(
    farm: Farm, policy: FetchPolicy, name: str
) -> None:
    r = fetch(policy, f"http://{name}.{ZONE}/canary")
    assert r.error == "blocked", r.detail
    assert farm.canary_hits["/canary"] == 0


def test_it_refuses_ip_literals_at_connect_time(farm: Farm, policy: FetchPolicy) -> None:
    for url in (
        f"http://127.0.0.1:{farm.http_port}/canary",
        "http://169.254.169.254/latest/meta-data/",
        f"http://[::ffff:127.0.0.2]:{farm.http_port}/",
    ):
        r = fetch(policy, url)
        assert r.error == "blocked", (url, r.detail)
    assert farm.canary_hits["/canary"] == 0


@pytest.mark.parametrize("path", ["/to-private", "/to-metadata", "/to-mapped"])
def test_it_refuses_redirects_to_private_addresses(
    farm: Farm, policy: FetchPolicy, path: str
) -> None:
    r = fetch(policy, f"http://login.{ZONE}{path}")
    assert r.error == "blocked", r.detail
    assert r.redirects and r.redirects[0][0] == 302
    assert farm.canary_hits["/canary"] == 0


def test_it_refuses_other_schemes_also_after_a_redirect(policy: FetchPolicy) -> None:
    assert fetch(policy, "ftp://login.bank.example/").error == "blocked"
    assert fetch(policy, "file:///etc/passwd").error == "blocked"
    r = fetch(policy, f"http://login.{ZONE}/to-ftp")
    assert r.error == "blocked"
    assert "ftp" in r.detail


def test_it_follows_five_redirects_but_not_six(policy: FetchPolicy) -> None:
    ok = fetch(policy, f"http://login.{ZONE}/chain/5")
    assert ok.status == 200 and ok.error is None
    assert len(ok.redirects) == 5
    too_many = fetch(policy, f"http://login.{ZONE}/chain/6")
    assert too_many.error == "redirect_loop"


def test_it_stops_a_redirect_loop_at_once(farm: Farm, policy: FetchPolicy) -> None:
    before = farm.hits["/loop"]
    r = fetch(policy, f"http://login.{ZONE}/loop")
    assert r.error == "redirect_loop"
    assert farm.hits["/loop"] - before == 1


def test_it_times_out_a_site_that_trickles(policy: FetchPolicy) -> None:
    started = time.monotonic()
    r = fetch(policy, f"http://login.{ZONE}/slow")
    assert r.error == "timeout"
    assert time.monotonic() - started < policy.total_timeout + 2


def test_it_caps_an_endless_body(policy: FetchPolicy) -> None:
    r = fetch(policy, f"http://login.{ZONE}/huge")
    assert r.error is None and r.status == 200
    assert r.truncated
    assert len(r.body) == policy.max_body


def test_it_caps_decompression_of_a_gzip_bomb(policy: FetchPolicy) -> None:
    r = fetch(policy, f"http://login.{ZONE}/bomb")
    assert r.status == 200
    assert r.truncated
    assert len(r.body) == policy.max_body
    assert r.body == b"\0" * policy.max_body


@pytest.mark.parametrize("path", ["/cookies", "/bigheader", "/early-hints"])
def test_it_reads_pages_with_as_many_and_as_big_headers_as_browsers_accept(
    policy: FetchPolicy, path: str
) -> None:
    r = fetch(policy, f"http://login.{ZONE}{path}")
    assert r.error is None and r.status == 200
    assert b'type="password"' in r.body
    if path == "/cookies":
        assert sum(1 for k, _ in r.headers if k.lower() == "set-cookie") == 99


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/header-block", "larger than 262144 bytes"),
        # Interim answers do not reset the count.
        ("/early-hints-block", "larger than 262144 bytes"),
        ("/many-headers", "Too many headers"),
    ],
)
def test_it_gives_up_on_headers_beyond_what_browsers_accept(
    policy: FetchPolicy, path: str, why: str
) -> None:
    r = fetch(policy, f"http://login.{ZONE}{path}")
    assert r.error == "error"
    assert r.status is None
    assert why in r.detail


def test_it_tells_a_reset_connection_from_a_refused_one(policy: FetchPolicy) -> None:
    r = fetch(policy, f"http://login.{ZONE}/reset")
    assert r.error == "error"


def test_it_keeps_cookies_within_one_redirect_chain_only(policy: FetchPolicy) -> None:
    chain, later = fetch_many(
        policy, [f"http://login.{ZONE}/cookie-set", f"http://login.{ZONE}/cookie-check"]
    )
    assert b"kit=victim-1" in chain.body
    assert later.body == b"cookie=[]"


def test_it_trusts_the_configured_ca_in_addition_to_the_system(
    policy: FetchPolicy,
) -> None:
    trusted = fetch(policy, f"https://secure.{ZONE}/")
    assert trusted.error is None and trusted.status == 200
    untrusted = fetch(dataclasses.replace(policy, ca_bundle=""), f"https://secure.{ZONE}/")
    assert untrusted.error == "tls_error"


def test_it_reports_a_certificate_for_another_name_as_a_tls_error(policy: FetchPolicy) -> None:
    r = fetch(policy, f"https://shop.{ZONE}/")
    assert r.error == "tls_error"
    assert "certificate" in r.cert_error.lower()


def test_it_reads_a_page_behind_a_bad_certificate_without_verification(
    policy: FetchPolicy,
) -> None:
    r = fetch(policy, f"https://shop.{ZONE}/", verify=False)
    assert r.error is None and r.status == 200
    assert b'type="password"' in r.body
    assert r.cert_error == ""


def test_it_does_not_take_a_failed_handshake_for_a_certificate_error(
    farm: Farm, policy: FetchPolicy
) -> None:
    # TLS spoken to a plain HTTP port: no certificate at all to click through.
    r = fetch(policy, f"https://login.{ZONE}:{farm.http_port}/", verify=False)
    assert r.error == "tls_error"
    assert r.cert_error == ""


def test_it_classifies_dns_failures(farm: Farm, policy: FetchPolicy) -> None:
    assert fetch(policy, f"http://nothere.{ZONE}/").error == "nxdomain"
    assert fetch(policy, "http://noaddr.empty.example/").error == "no_address"
    # The look-up failed (the name's servers are broken, the resolver will
    # not serve us): the name may exist.
    for name, rcode in (("lame", "SERVFAIL"), ("refusing", "REFUSED")):
        r = fetch(policy, f"http://{name}.{ZONE}/")
        assert (r.error, r.detail) == ("dns_error", f"{name}.{ZONE}: {rcode}")


def test_it_classifies_a_closed_port_as_refused(policy: FetchPolicy) -> None:
    with socket.socket() as s:
        s.bind((FARM_IP, 0))
        closed = s.getsockname()[1]
    r = fetch(policy, f"http://{FARM_IP}:{closed}/")
    assert r.error == "refused"


def test_it_alternates_with_a_rebinding_name_without_touching_the_private_answer(
    farm: Farm, policy: FetchPolicy
) -> None:
    results = fetch_many(policy, [f"http://rebind.{ZONE}/rebind"] * 4)
    outcomes = [r.error or "up" for r in results]
    assert "up" in outcomes and "blocked" in outcomes
    assert farm.canary_hits["/rebind"] == 0


def test_it_hashes_a_whole_download_but_keeps_only_the_cap(policy: FetchPolicy) -> None:
    import hashlib

    chunks: list[bytes] = []
    r = fetch(
        policy,
        f"http://malware.{ZONE}/malware.exe",
        max_body=1024,
        hash_limit=10 * 1024 * 1024,
        sink=chunks.append,
    )
    assert r.size == len(MALWARE)
    assert r.body_sha256 == hashlib.sha256(MALWARE).hexdigest()
    assert len(r.body) == 1024
    assert b"".join(chunks) == MALWARE


def test_it_sends_the_mobile_user_agent_when_asked(farm: Farm, policy: FetchPolicy) -> None:
    desktop = fetch(policy, f"http://cloak.{ZONE}/cloak")
    mobile = fetch(policy, f"http://cloak.{ZONE}/cloak", agent="mobile")
    assert desktop.status == 404
    assert mobile.status == 200
    assert farm.seen_headers[-1]["User-Agent"] == MOBILE_UA


def test_it_limits_concurrency_per_host(farm: Farm, policy: FetchPolicy) -> None:
    tight = dataclasses.replace(policy, per_host=2, total_timeout=1.0)

    async def go() -> float:
        async with Fetcher(tight) as f:
            started = time.monotonic()
            # Six trickling pages, two at a time: three waves of ~1 s each.
            await asyncio.gather(*(f.fetch(f"http://login.{ZONE}/slow") for _ in range(6)))
            return time.monotonic() - started

    assert asyncio.run(go()) >= 2.5


def test_it_never_raises_for_garbage_urls(policy: FetchPolicy) -> None:
    for url in ("", "not a url", "http://", "http://[::1", "http://exa mple.com/"):
        r = fetch(policy, url)
        assert r.error is not None


def test_it_ignores_dns_answers_that_do_not_match_the_question() -> None:
    """A forged or stray answer (another name, another id) is dropped, not believed."""
    import dns.message
    import dns.rrset

    async def go() -> str:
        loop = asyncio.get_running_loop()

        class Liar(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                query = dns.message.from_wire(data)
                forged = dns.message.make_query("other.bank.example", "A")
                forged.id = query.id  # right id, wrong question
                reply = dns.message.make_response(forged)
                reply.answer.append(
                    dns.rrset.from_text("other.bank.example.", 60, "IN", "A", FARM_IP)
                )
                self.transport.sendto(reply.to_wire(), addr)  # type: ignore[attr-defined]

        transport, _ = await loop.create_datagram_endpoint(Liar, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        resolver = SafeResolver(FetchPolicy(resolver=("127.0.0.1", port), dns_timeout=0.5))
        try:
            await resolver.addresses("login.bank.example")
        except FetchFailure as exc:
            return exc.kind
        finally:
            await resolver.close()
            transport.close()
        return "believed"

    assert asyncio.run(go()) == "timeout"
