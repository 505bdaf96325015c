"""The sandbox's DNS server: authoritative answers for the scenario's names, UDP and TCP.

It plays the part of the whole DNS (the service uses it as its only resolver), so a
name it does not know is NXDOMAIN, as the root would say. Answers can change while
it runs: a takedown by ``nxdomain``, a site moving to another address, and the
``dns-rebind`` trap whose answers alternate between the site's address and a
private one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import struct
from collections import Counter
from dataclasses import dataclass, field

from dnslib import AAAA, CNAME, MX, NS, QTYPE, RCODE, RR, SOA, TXT, A, DNSRecord

log = logging.getLogger(__name__)

# What a rebinding name answers every other time. The unspecified address is
# "private" for ipaddress and for any fetcher's address check, and Linux connects
# it to the local host, so a fetcher that fails the check still sends nothing
# off this machine (10.x or 169.254.169.254 would leave by the default route).
REBIND_ADDRESS = "0.0.0.0"  # noqa: S104 - an answer we serve, not an address we bind

# Site names change at run time (takedowns, moves), so their answers must not be
# cached for long; infrastructure names (NS, MX) are stable.  A benchmark of
# caching (bench/locate.py) serves sites with a real-world TTL instead.
SITE_TTL = int(os.environ.get("TAKEDOWN_SANDBOX_SITE_TTL", "1"))
INFRA_TTL = 300
MAX_UDP = 512


@dataclass
class NameRecords:
    a: list[str] = field(default_factory=list)
    aaaa: list[str] = field(default_factory=list)
    cname: str | None = None
    ns: list[str] = field(default_factory=list)
    mx: list[tuple[int, str]] = field(default_factory=list)
    txt: list[str] = field(default_factory=list)
    ttl: int = INFRA_TTL
    rebind: bool = False


class DnsTable:
    """Names the sandbox answers for; changed only from the sandbox's event loop."""

    def __init__(self) -> None:
        self.names: dict[str, NameRecords] = {}
        self.zones: set[str] = set()
        self.nxdomain: set[str] = set()
        self._rebind_count: Counter[str] = Counter()
        self.queries: Counter[str] = Counter()

    def add_zone(self, zone: str, ns_address: str) -> None:
        zone = _norm(zone)
        if zone in self.zones:
            return
        self.zones.add(zone)
        apex = self.names.setdefault(zone, NameRecords())
        apex.ns = [f"ns1.{zone}", f"ns2.{zone}"]
        for ns in apex.ns:
            self.names.setdefault(ns, NameRecords(a=[ns_address]))

    def add_address(self, name: str, ip: str, *, ttl: int = SITE_TTL) -> None:
        rec = self.names.setdefault(_norm(name), NameRecords())
        rec.ttl = min(rec.ttl, ttl)
        target = rec.aaaa if ipaddress.ip_address(ip).version == 6 else rec.a
        if ip not in target:
            target.append(ip)

    def add_cname(self, name: str, target: str) -> None:
        self.names.setdefault(_norm(name), NameRecords(ttl=SITE_TTL)).cname = _norm(target)

    def add_mail_domain(self, domain: str, mail_ip: str) -> None:
        domain = _norm(domain)
        self.add_zone(domain, mail_ip)
        apex = self.names[domain]
        if not apex.mx:
            apex.mx = [(10, f"mail.{domain}")]
            apex.txt.append("v=spf1 mx -all")
        self.names.setdefault(f"mail.{domain}", NameRecords(a=[mail_ip]))

    def add_txt(self, name: str, text: str) -> None:
        self.names.setdefault(_norm(name), NameRecords()).txt.append(text)

    def set_rebind(self, name: str) -> None:
        rec = self.names.setdefault(_norm(name), NameRecords())
        rec.rebind = True
        rec.ttl = 0

    # --- run-time changes ---

    def set_answer(self, name: str, ips: list[str]) -> None:
        name = _norm(name)
        self.nxdomain.discard(name)
        rec = self.names.setdefault(name, NameRecords(ttl=SITE_TTL))
        rec.cname = None
        rec.a = [ip for ip in ips if ipaddress.ip_address(ip).version == 4]
        rec.aaaa = [ip for ip in ips if ipaddress.ip_address(ip).version == 6]

    def set_nxdomain(self, name: str) -> None:
        self.nxdomain.add(_norm(name))

    def clear_nxdomain(self, name: str) -> None:
        self.nxdomain.discard(_norm(name))

    # --- answering ---

    def zone_of(self, name: str) -> str | None:
        labels = name.split(".")
        for i in range(len(labels)):
            candidate = ".".join(labels[i:])
            if candidate in self.zones:
                return candidate
        return None

    def resolve(self, query: DNSRecord) -> DNSRecord:
        reply = query.reply()
        if not query.questions:
            reply.header.rcode = RCODE.FORMERR
            return reply
        q = query.q
        name = _norm(str(q.qname))
        qtype = QTYPE.get(q.qtype)
        self.queries[str(qtype)] += 1
        seen: set[str] = set()
        current = name
        while True:
            if current in self.nxdomain or current not in self.names:
                reply.header.rcode = RCODE.NXDOMAIN
                self._add_soa(reply, current)
                return reply
            rec = self.names[current]
            if rec.cname and qtype != "CNAME":
                reply.add_answer(RR(current, QTYPE.CNAME, rdata=CNAME(rec.cname), ttl=rec.ttl))
                if rec.cname in seen:
                    return reply
                seen.add(current)
                current = rec.cname
                continue
            added = self._answer(reply, current, rec, qtype)
            if not added and not reply.rr:
                self._add_soa(reply, current)
            return reply

    def _answer(self, reply: DNSRecord, name: str, rec: NameRecords, qtype: str) -> bool:
        before = len(reply.rr)
        if qtype in ("A", "ANY"):
            addresses = rec.a
            if rec.rebind and rec.a:
                self._rebind_count[name] += 1
                if self._rebind_count[name] % 2 == 0:
                    addresses = [REBIND_ADDRESS]
            for ip in addresses:
                reply.add_answer(RR(name, QTYPE.A, rdata=A(ip), ttl=rec.ttl))
        if qtype in ("AAAA", "ANY"):
            for ip in rec.aaaa:
                reply.add_answer(RR(name, QTYPE.AAAA, rdata=AAAA(ip), ttl=rec.ttl))
        if qtype == "CNAME" and rec.cname:
            reply.add_answer(RR(name, QTYPE.CNAME, rdata=CNAME(rec.cname), ttl=rec.ttl))
        if qtype in ("NS", "ANY"):
            for ns in rec.ns:
                reply.add_answer(RR(name, QTYPE.NS, rdata=NS(ns), ttl=INFRA_TTL))
        if qtype in ("MX", "ANY"):
            for pref, host in rec.mx:
                reply.add_answer(RR(name, QTYPE.MX, rdata=MX(host, pref), ttl=INFRA_TTL))
        if qtype in ("TXT", "ANY"):
            for text in rec.txt:
                reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(text), ttl=INFRA_TTL))
        if qtype == "SOA" and name in self.zones:
            reply.add_answer(self._soa_rr(name))
        return len(reply.rr) > before

    def _soa_rr(self, zone: str) -> RR:
        return RR(
            zone,
            QTYPE.SOA,
            rdata=SOA(f"ns1.{zone}", f"hostmaster.{zone}", (2025010101, 3600, 600, 86400, 1)),
            ttl=INFRA_TTL,
        )

    def _add_soa(self, reply: DNSRecord, name: str) -> None:
        zone = self.zone_of(name)
        if zone:
            reply.add_auth(self._soa_rr(zone))


def _norm(name: str) -> str:
    return name.lower().rstrip(".")


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, table: DnsTable) -> None:
        self.table = table
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        answer = _answer_bytes(self.table, data, max_size=_udp_limit(data))
        if answer is not None and self.transport is not None:
            self.transport.sendto(answer, addr)


def _udp_limit(data: bytes) -> int:
    try:
        query = DNSRecord.parse(data)
    except Exception:
        return MAX_UDP
    for rr in query.ar:
        if rr.rtype == QTYPE.OPT:
            return max(MAX_UDP, int(rr.rclass))
    return MAX_UDP


def _answer_bytes(table: DnsTable, data: bytes, *, max_size: int | None = None) -> bytes | None:
    try:
        query = DNSRecord.parse(data)
    except Exception:
        # Garbage gets no answer, as from a real server; nothing to reply to.
        return None
    try:
        reply = table.resolve(query)
    except Exception:
        log.exception("sandbox DNS failed on %r", data[:64])
        reply = query.reply()
        reply.header.rcode = RCODE.SERVFAIL
    packed: bytes = reply.pack()
    if max_size is not None and len(packed) > max_size:
        truncated = query.reply()
        truncated.header.tc = 1
        packed = truncated.pack()
    return packed


class DnsServer:
    """UDP and TCP on one port of 127.0.0.1."""

    def __init__(self, table: DnsTable, host: str = "127.0.0.1") -> None:
        self.table = table
        self.host = host
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    async def start(self, port: int = 0) -> None:
        loop = asyncio.get_running_loop()
        # The UDP and TCP ports must match; a port free for UDP may be taken for TCP.
        for _attempt in range(20):
            udp, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self.table), local_addr=(self.host, port)
            )
            chosen = udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._handle_tcp, self.host, chosen)
            except OSError:
                udp.close()
                if port:
                    raise
                continue
            self._udp = udp
            self.port = chosen
            return
        raise OSError("no port free for both UDP and TCP")

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()

    async def _handle_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await asyncio.wait_for(reader.readexactly(2), timeout=10)
                (length,) = struct.unpack("!H", head)
                data = await asyncio.wait_for(reader.readexactly(length), timeout=10)
                answer = _answer_bytes(self.table, data)
                if answer is None:
                    break
                writer.write(struct.pack("!H", len(answer)) + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
