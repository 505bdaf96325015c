"""The stub resolver's codec and cache, against answers dnspython writes and a UDP server here."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from takedown.lib import dnsstub
from takedown.lib.dnsstub import AAAA, A, StubResolver, answer_from, parse_response, query_wire


def question(host: str, qtype: int = A) -> bytes:
    return dnsstub.name_wire(host) + struct.pack("!HH", qtype, 1)


def reply(query: dns.message.Message, *rrsets: tuple[str, int, str, str]) -> dns.message.Message:
    response = dns.message.make_response(query)
    for name, ttl, rdtype, value in rrsets:
        response.answer.append(dns.rrset.from_text(name, ttl, "IN", rdtype, value))
    return response


def test_it_writes_a_recursive_query_with_edns() -> None:
    message = dns.message.from_wire(query_wire(4242, dnsstub.name_wire("Login.Example.COM."), A))
    assert message.id == 4242
    assert message.flags & dns.flags.RD
    assert message.question[0].name == dns.name.from_text("login.example.com")
    assert message.question[0].rdtype == dns.rdatatype.A
    assert message.edns == 0 and message.payload == dnsstub.EDNS_PAYLOAD


@pytest.mark.parametrize("host", ["", "a..b", "x" * 64 + ".example", "bad\u00e9.example"])
def test_it_refuses_what_is_not_a_dns_name(host: str) -> None:
    with pytest.raises(dnsstub.DnsFailure) as raised:
        dnsstub.name_wire(host)
    assert raised.value.outcome == "invalid"


def test_it_follows_a_cname_chain_to_the_addresses_with_the_smallest_ttl() -> None:
    query = dns.message.make_query("www.shop.example", "A")
    response = reply(
        query,
        ("www.shop.example.", 300, "CNAME", "edge.cdn.example."),
        ("edge.cdn.example.", 60, "CNAME", "pop1.cdn.example."),
        ("pop1.cdn.example.", 120, "A", "192.0.2.7"),
        ("pop1.cdn.example.", 120, "A", "192.0.2.8"),
        ("unrelated.example.", 5, "A", "198.51.100.1"),
    )
    wire = response.to_wire()
    parsed = parse_response(wire, query.id, question("www.shop.example"))
    answer = answer_from(wire, parsed, "www.shop.example", A, 1.0)
    assert answer.outcome == "ok"
    assert answer.addresses == ("192.0.2.7", "192.0.2.8")
    assert answer.cnames == ("edge.cdn.example", "pop1.cdn.example")
    assert answer.ttl == 60


def test_it_reads_aaaa_and_a_cname_loop() -> None:
    query = dns.message.make_query("v6.example", "AAAA")
    wire = reply(query, ("v6.example.", 30, "AAAA", "2001:db8::1")).to_wire()
    answer = answer_from(
        wire, parse_response(wire, query.id, question("v6.example", AAAA)), "v6.example", AAAA, 0
    )
    assert answer.addresses == ("2001:db8::1",)
    query = dns.message.make_query("a.loop.example", "A")
    wire = reply(
        query,
        ("a.loop.example.", 30, "CNAME", "b.loop.example."),
        ("b.loop.example.", 30, "CNAME", "a.loop.example."),
    ).to_wire()
    parsed = parse_response(wire, query.id, question("a.loop.example"))
    assert answer_from(wire, parsed, "a.loop.example", A, 0).outcome == "cname_loop"


def test_it_keeps_the_negative_ttl_of_an_nxdomain() -> None:
    query = dns.message.make_query("gone.example", "A")
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.NXDOMAIN)
    response.authority.append(
        dns.rrset.from_text(
            "example.", 900, "IN", "SOA", "ns.example. host.example. 1 7200 900 1209600 60"
        )
    )
    wire = response.to_wire()
    answer = answer_from(
        wire, parse_response(wire, query.id, question("gone.example")), "gone.example", A, 0
    )
    assert (answer.outcome, answer.ttl) == ("nxdomain", 60)


def test_it_refuses_an_answer_to_another_question_or_id_or_a_compression_loop() -> None:
    query = dns.message.make_query("bank.example", "A")
    wire = reply(query, ("bank.example.", 30, "A", "192.0.2.1")).to_wire()
    with pytest.raises(ValueError, match="question"):
        parse_response(wire, query.id, question("other.example"))
    with pytest.raises(ValueError, match="response"):
        parse_response(wire, (query.id + 1) % 65536, question("bank.example"))
    with pytest.raises(ValueError, match="question"):
        parse_response(wire, query.id, question("bank.example", AAAA))
    # An answer record whose name points at itself.
    header = struct.pack("!HHHHHH", 7, 0x8180, 1, 1, 0, 0)
    q = question("bank.example")
    looped = header + q + struct.pack("!H", 0xC000 | (12 + len(q))) + b"\x00" * 10
    with pytest.raises(ValueError, match=r"loop|past"):
        parse_response(looped, 7, q)
    # The question's case is the server's to echo.
    shouted = dns.message.make_query("BANK.example", "A")
    shouted.id = query.id
    wire = reply(shouted, ("BANK.example.", 30, "A", "192.0.2.1")).to_wire()
    parsed = parse_response(wire, query.id, question("bank.example"))
    assert answer_from(wire, parsed, "bank.example", A, 0).addresses == ("192.0.2.1",)


class Server(asyncio.DatagramProtocol):
    """A DNS server on loopback whose answers the test writes; it counts the questions."""

    def __init__(self, answer: Callable[[dns.message.Message], list[dns.message.Message]]) -> None:
        self.answer = answer
        self.asked: list[str] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        self.asked.append(query.question[0].name.to_text())
        assert self.transport is not None
        for response in self.answer(query):
            self.transport.sendto(response.to_wire(), addr)


async def serving(
    answer: Callable[[dns.message.Message], list[dns.message.Message]],
) -> tuple[Server, int]:
    loop = asyncio.get_running_loop()
    transport, server = await loop.create_datagram_endpoint(
        lambda: Server(answer), local_addr=("127.0.0.1", 0)
    )
    return server, transport.get_extra_info("sockname")[1]


def test_it_caches_for_the_ttl_but_never_a_zero_ttl_and_shares_one_query() -> None:
    def answer(query: dns.message.Message) -> list[dns.message.Message]:
        name = query.question[0].name.to_text()
        ttl = 0 if name.startswith("rebind") else 300
        return [reply(query, (name, ttl, "A", "192.0.2.9"))]

    async def run() -> Server:
        server, port = await serving(answer)
        stub = StubResolver([("127.0.0.1", port)], timeout=2)
        together = await asyncio.gather(*(stub.addresses("kept.example") for _ in range(5)))
        again = await stub.addresses("kept.example")
        await stub.addresses("rebind.example")
        await stub.addresses("rebind.example")
        stub.close()
        assert {a.addresses for a in [*together, again]} == {("192.0.2.9",)}
        assert again.at == together[0].at  # when it was had, not when it was read
        return server

    server = asyncio.run(run())
    assert server.asked == ["kept.example.", "rebind.example.", "rebind.example."]


def test_it_waits_for_the_real_answer_past_a_forged_one() -> None:
    def answer(query: dns.message.Message) -> list[dns.message.Message]:
        other = dns.message.make_query("evil.example", "A")
        other.id = query.id
        forged = reply(other, ("evil.example.", 300, "A", "203.0.113.66"))  # another question
        wrong_id = reply(query, (query.question[0].name.to_text(), 300, "A", "203.0.113.67"))
        wrong_id.id = (query.id + 1) % 65536
        return [
            forged,
            wrong_id,
            reply(query, (query.question[0].name.to_text(), 300, "A", "192.0.2.10")),
        ]

    async def run() -> dnsstub.Answer:
        _server, port = await serving(answer)
        stub = StubResolver([("127.0.0.1", port)], timeout=2)
        try:
            return await stub.addresses("bank.example")
        finally:
            stub.close()

    assert asyncio.run(run()).addresses == ("192.0.2.10",)


def test_it_says_timeout_when_nobody_answers_and_servfail_for_refused() -> None:
    async def run() -> tuple[dnsstub.Answer, dnsstub.Answer]:
        _silent, silent_port = await serving(lambda q: [])

        def refuse(query: dns.message.Message) -> list[dns.message.Message]:
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.REFUSED)
            return [response]

        _refusing, refusing_port = await serving(refuse)
        quiet = StubResolver([("127.0.0.1", silent_port)], timeout=0.3)
        refused = StubResolver([("127.0.0.1", refusing_port)], timeout=2)
        try:
            return await quiet.addresses("a.example"), await refused.addresses("a.example")
        finally:
            quiet.close()
            refused.close()

    timeout, refused = asyncio.run(run())
    assert timeout.outcome == "timeout"
    assert (refused.outcome, refused.error) == ("servfail", "REFUSED")
