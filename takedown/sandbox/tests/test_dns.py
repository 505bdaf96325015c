from __future__ import annotations

import socket
from collections.abc import Callable

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import pytest

from takedown.sandbox.core import Sandbox
from takedown.sandbox.dnsserver import REBIND_ADDRESS
from takedown.sandbox.tests.small import SMALL

pytestmark = pytest.mark.concurrency


def _resolver(sb: Sandbox, tcp: bool = False) -> dns.resolver.Resolver:
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = sb.dns_port
    res.lifetime = 3
    res.cache = None
    return res


def _a(sb: Sandbox, name: str, tcp: bool = False) -> list[str]:
    answer = _resolver(sb).resolve(name, "A", tcp=tcp)
    return sorted(r.address for r in answer)


def test_it_answers_a_over_udp_and_tcp(sandbox: Sandbox) -> None:
    assert _a(sandbox, "login.bank-a.example") == ["127.1.0.10"]
    assert _a(sandbox, "login.bank-a.example", tcp=True) == ["127.1.0.10"]


def test_it_says_nxdomain_for_unknown_names(sandbox: Sandbox) -> None:
    q = dns.message.make_query("no-such-host.bank-a.example", "A")
    reply = dns.query.udp(q, "127.0.0.1", port=sandbox.dns_port, timeout=3)
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert reply.authority and reply.authority[0].rdtype == dns.rdatatype.SOA
    reply = dns.query.tcp(
        dns.message.make_query("www.example.com", "A"),
        "127.0.0.1",
        port=sandbox.dns_port,
        timeout=3,
    )
    assert reply.rcode() == dns.rcode.NXDOMAIN


def test_it_serves_ns_mx_and_txt(sandbox: Sandbox) -> None:
    res = _resolver(sandbox)
    ns = sorted(str(r.target) for r in res.resolve("bank-a.example", "NS"))
    assert ns == ["ns1.bank-a.example.", "ns2.bank-a.example."]
    assert [str(r.exchange) for r in res.resolve("net-a.example", "MX")] == ["mail.net-a.example."]
    assert any("v=spf1" in r.to_text() for r in res.resolve("net-a.example", "TXT"))
    assert [r.address for r in res.resolve("ns1.bank-a.example", "A")] == ["127.0.0.1"]


def test_it_gives_nodata_for_a_missing_type(sandbox: Sandbox) -> None:
    q = dns.message.make_query("login.bank-a.example", "AAAA")
    reply = dns.query.udp(q, "127.0.0.1", port=sandbox.dns_port, timeout=3)
    assert reply.rcode() == dns.rcode.NOERROR
    assert not reply.answer


def test_it_follows_cnames_and_changes_at_run_time(sandbox_factory: Callable[..., Sandbox]) -> None:
    sb = sandbox_factory(SMALL)
    q = dns.message.make_query("www.bank.example", "A")
    reply = dns.query.udp(q, "127.0.0.1", port=sb.dns_port, timeout=3)
    types = [rrset.rdtype for rrset in reply.answer]
    assert dns.rdatatype.CNAME in types and dns.rdatatype.A in types
    sb.set_answer("pay.shop.example", ["127.12.0.7", "127.12.0.8"])
    assert _a(sb, "pay.shop.example") == ["127.12.0.7", "127.12.0.8"]
    sb.set_nxdomain("pay.shop.example")
    reply = dns.query.tcp(
        dns.message.make_query("pay.shop.example", "A"), "127.0.0.1", port=sb.dns_port, timeout=3
    )
    assert reply.rcode() == dns.rcode.NXDOMAIN


def test_it_rebinds(sandbox_factory: Callable[..., Sandbox]) -> None:
    sb = sandbox_factory(SMALL)
    seen = [_a(sb, "rebind.traps.example")[0] for _ in range(4)]
    assert seen == ["127.16.0.2", REBIND_ADDRESS, "127.16.0.2", REBIND_ADDRESS]
    rrset = _resolver(sb).resolve("rebind.traps.example", "A").rrset
    assert rrset is not None
    ttl = rrset.ttl
    assert ttl == 0


def test_it_ignores_garbage(sandbox: Sandbox) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        s.sendto(b"\x00garbage", ("127.0.0.1", sandbox.dns_port))
        try:
            s.recvfrom(512)
            answered = True
        except TimeoutError:
            answered = False
    assert not answered
    assert _a(sandbox, "login.bank-a.example") == ["127.1.0.10"]
