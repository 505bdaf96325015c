"""One fast DNS path for the monitor and locate: a stub resolver with a cache that honours TTLs.

Framework-free.  Both the checker (``lib/fetch.SafeResolver``) and locate
(``locate/resolver.py``) ask a :class:`StubResolver`: A and AAAA questions to
the configured recursive resolver, over a few long-lived UDP sockets, TCP when
an answer is truncated.  Measured against dnspython and c-ares (aiodns) in
``bench/resolvers.py``; the choice and its figures are in docs/decisions.md.

1. The wire format is written and read here, for the two questions we ask
   (A, AAAA, class IN, one question, EDNS0 with a 1,232-byte payload): a query
   is a few bytes joined, an answer is read for its header, its question, the
   CNAME chain and the addresses at the end of it, and the SOA of a negative
   answer.  Anything else in an answer is skipped by its length.
2. An answer counts only if it comes from the server asked, carries the id
   asked (random, not in flight on its socket) and repeats the question
   asked; each socket keeps the random source port the OS gave it.
3. Answers are cached per (name, type) until their TTL runs out (the
   smallest in the chain, at most ``max_ttl``); a name whose answer has a TTL
   of 0 (a rebinding trick) is never cached, nor is a failure.  NXDOMAIN and
   "no such record" are cached for the SOA's negative TTL (RFC 2308), if the
   server gave one.  Concurrent look-ups of one name share one query.  The
   cache holds at most ``max_entries`` names; the oldest go first.
4. Each answer says when it was had (``Answer.at``, wall clock): locate
   writes that time, not the time it read the cache, on the site's timeline.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any

A = 1
AAAA = 28
CNAME = 5
SOA = 6
OPT = 41
CLASS_IN = 1
RCODE_TEXT = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
EDNS_PAYLOAD = 1232
MAX_CNAME_HOPS = 8
MAX_ADDRESSES = 64
_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_OPT_RR = b"\x00" + struct.pack("!HHIH", OPT, EDNS_PAYLOAD, 0, 0)


class DnsFailure(Exception):
    """A look-up that got no usable answer; ``outcome`` says which kind."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


@dataclass(frozen=True, slots=True)
class Answer:
    """What the resolver said about one name and type.

    ``outcome``: ``ok`` (addresses), ``nxdomain``, ``no_address`` (the name
    exists, no record of this type), ``servfail`` (SERVFAIL, REFUSED or
    another error code), ``timeout``, ``cname_loop``, ``invalid`` (not a DNS
    name), ``error`` (a broken answer, our socket failing).
    """

    outcome: str
    addresses: tuple[str, ...] = ()
    cnames: tuple[str, ...] = ()
    ttl: float = 0.0
    # When the server gave this answer (time.time()); a cached answer keeps it.
    at: float = 0.0
    error: str = ""
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


# --- the wire format -----------------------------------------------------------------


def name_wire(host: str) -> bytes:
    """``host`` (ASCII, punycode already) as DNS labels; DnsFailure("invalid") if it is none."""
    host = host.rstrip(".").lower()
    try:
        raw = host.encode("ascii")
    except UnicodeError:
        raise DnsFailure("invalid", f"{host[:100]!r} is not an ASCII host name") from None
    if not raw or len(raw) > 253:
        raise DnsFailure("invalid", f"{host[:100]!r} is not a DNS name")
    out = bytearray()
    for label in raw.split(b"."):
        if not 0 < len(label) < 64:
            raise DnsFailure("invalid", f"{host[:100]!r} has an empty or too long label")
        out.append(len(label))
        out += label
    out.append(0)
    return bytes(out)


def query_wire(qid: int, qname: bytes, qtype: int) -> bytes:
    """A recursive query (RD) for one question, with an EDNS0 OPT record."""
    return (
        _HEADER.pack(qid, 0x0100, 1, 0, 0, 1)
        + qname
        + struct.pack("!HH", qtype, CLASS_IN)
        + _OPT_RR
    )


def _read_name(data: bytes, offset: int) -> tuple[str, int]:
    """The name at ``offset`` (compression pointers followed, at most 128 of them)."""
    labels: list[bytes] = []
    end = -1
    jumps = 0
    while True:
        if offset >= len(data):
            raise ValueError("name runs past the message")
        length = data[offset]
        if length == 0:
            offset += 1
            break
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(data):
                raise ValueError("truncated compression pointer")
            if end < 0:
                end = offset + 2
            jumps += 1
            if jumps > 128:
                raise ValueError("compression loop")
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            continue
        if length & 0xC0:
            raise ValueError("unknown label type")
        labels.append(data[offset + 1 : offset + 1 + length])
        offset += 1 + length
    name = b".".join(labels).decode("latin-1").lower()
    return name, (end if end >= 0 else offset)


@dataclass
class Parsed:
    rcode: int
    truncated: bool
    # (owner, type, ttl, rdata offset, rdata length) of the answer section.
    records: list[tuple[str, int, int, int, int]] = field(default_factory=list)
    negative_ttl: int | None = None


def parse_response(data: bytes, qid: int, question: bytes) -> Parsed:
    """Read a response to the query with ``qid`` and ``question`` (name + type + class).

    ValueError when it is not one: too short, another id, not a response, or
    another question (compared case-insensitively, as servers may echo the
    name's case differently).
    """
    if len(data) < 12:
        raise ValueError("shorter than a DNS header")
    rid, flags, qdcount, ancount, nscount, _arcount = _HEADER.unpack_from(data)
    if rid != qid or not flags & 0x8000:
        raise ValueError("not the response to this query")
    end = 12 + len(question)
    if qdcount != 1 or len(data) < end:
        raise ValueError("not the question asked")
    echoed = data[12:end]
    if echoed[:-4].lower() != question[:-4] or echoed[-4:] != question[-4:]:
        raise ValueError("not the question asked")
    parsed = Parsed(rcode=flags & 0x000F, truncated=bool(flags & 0x0200))
    offset = end
    for section, count in ((0, ancount), (1, nscount)):
        for _ in range(count):
            owner, offset = _read_name(data, offset)
            if offset + 10 > len(data):
                raise ValueError("record runs past the message")
            rtype, _rclass, ttl, rdlength = _RR.unpack_from(data, offset)
            offset += 10
            if offset + rdlength > len(data):
                raise ValueError("record data runs past the message")
            if section == 0:
                parsed.records.append((owner, rtype, ttl, offset, rdlength))
            elif rtype == SOA:
                # RFC 2308: the negative TTL is the smaller of the SOA's TTL and MINIMUM.
                _mname, at = _read_name(data, offset)
                _rname, at = _read_name(data, at)
                if at + 20 <= offset + rdlength:
                    minimum = struct.unpack_from("!I", data, at + 16)[0]
                    parsed.negative_ttl = min(ttl, minimum)
            offset += rdlength
        if section == 0 and parsed.rcode != 0 and parsed.rcode != 3:
            break
    return parsed


def answer_from(data: bytes, parsed: Parsed, host: str, qtype: int, now: float) -> Answer:
    """The addresses of ``host`` for ``qtype`` in a parsed response, its CNAMEs followed."""
    rcode = parsed.rcode
    if rcode == 3:
        return Answer("nxdomain", ttl=parsed.negative_ttl or 0, at=now, error="NXDOMAIN")
    if rcode != 0:
        text = RCODE_TEXT.get(rcode, f"RCODE{rcode}")
        return Answer("servfail", at=now, error=text)
    cnames: dict[str, tuple[str, int]] = {}
    addresses: dict[str, list[tuple[str, int]]] = {}
    for owner, rtype, ttl, at, length in parsed.records:
        if rtype == CNAME:
            target, _end = _read_name(data, at)
            cnames.setdefault(owner, (target, ttl))
        elif rtype == qtype == A and length == 4:
            addresses.setdefault(owner, []).append(
                (socket.inet_ntop(socket.AF_INET, data[at : at + 4]), ttl)
            )
        elif rtype == qtype == AAAA and length == 16:
            addresses.setdefault(owner, []).append(
                (socket.inet_ntop(socket.AF_INET6, data[at : at + 16]), ttl)
            )
    name = host
    chain: list[str] = []
    ttls: list[int] = []
    while name in cnames:
        target, ttl = cnames[name]
        if target in chain or target == host or len(chain) >= MAX_CNAME_HOPS:
            return Answer(
                "cname_loop", cnames=tuple(chain), at=now, error="CNAME chain too long or looping"
            )
        chain.append(target)
        ttls.append(ttl)
        name = target
    found = addresses.get(name, [])
    if not found:
        negative = parsed.negative_ttl or 0
        return Answer(
            "no_address",
            cnames=tuple(chain),
            ttl=min([negative, *ttls]) if negative else 0,
            at=now,
            error=f"no {'A' if qtype == A else 'AAAA'} record",
        )
    ttls.extend(ttl for _ip, ttl in found)
    ips = list(dict.fromkeys(ip for ip, _ttl in found))
    return Answer(
        "ok",
        tuple(ips[:MAX_ADDRESSES]),
        tuple(chain),
        ttl=float(min(ttls)),
        at=now,
        truncated=len(ips) > MAX_ADDRESSES,
    )


# --- transport -----------------------------------------------------------------------


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        # id -> (server, question, future)
        self.pending: dict[
            int, tuple[tuple[str, int], bytes, asyncio.Future[tuple[bytes, Parsed]]]
        ] = {}

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if len(data) < 12:
            return
        entry = self.pending.get(int.from_bytes(data[:2], "big"))
        if entry is None:
            return
        server, question, future = entry
        if (addr[0], addr[1]) != server or future.done():
            return
        try:
            parsed = parse_response(data, int.from_bytes(data[:2], "big"), question)
        except ValueError:
            return  # not the answer to our question: keep waiting for it
        future.set_result((data, parsed))

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and the like: every query on this socket fails fast.
        for _server, _question, future in self.pending.values():
            if not future.done():
                future.set_exception(exc)


class _UdpClient:
    """DNS over UDP on a few long-lived sockets (a socket per query costs more than a check)."""

    SOCKETS = 4

    def __init__(self) -> None:
        self._endpoints: dict[int, list[tuple[asyncio.DatagramTransport, _UdpProtocol]]] = {}
        self._next = 0

    async def _endpoint(self, server: str) -> tuple[asyncio.DatagramTransport, _UdpProtocol]:
        family = socket.AF_INET6 if ":" in server else socket.AF_INET
        pool = self._endpoints.setdefault(family, [])
        if len(pool) < self.SOCKETS:
            loop = asyncio.get_running_loop()
            transport, protocol = await loop.create_datagram_endpoint(
                _UdpProtocol,
                local_addr=("::" if family == socket.AF_INET6 else "0.0.0.0", 0),  # noqa: S104 - an ephemeral client port
            )
            pool.append((transport, protocol))
        self._next = (self._next + 1) % len(pool)
        return pool[self._next]

    async def ask(
        self, qname: bytes, qtype: int, server: tuple[str, int], timeout: float
    ) -> tuple[bytes, Parsed, int]:
        transport, protocol = await self._endpoint(server[0])
        while True:
            qid = secrets.randbelow(65536)
            if qid not in protocol.pending:
                break
        question = qname + struct.pack("!HH", qtype, CLASS_IN)
        future: asyncio.Future[tuple[bytes, Parsed]] = asyncio.get_running_loop().create_future()
        protocol.pending[qid] = (server, question, future)
        try:
            transport.sendto(query_wire(qid, qname, qtype), server)
            async with asyncio.timeout(timeout):
                data, parsed = await future
            return data, parsed, qid
        finally:
            protocol.pending.pop(qid, None)

    def close(self) -> None:
        for pool in self._endpoints.values():
            for transport, protocol in pool:
                transport.close()
                for _server, _question, future in protocol.pending.values():
                    if not future.done():
                        future.cancel()
        self._endpoints.clear()


async def _ask_tcp(
    qname: bytes, qtype: int, server: tuple[str, int], timeout: float
) -> tuple[bytes, Parsed]:
    """The same question over TCP (after a truncated UDP answer)."""
    qid = secrets.randbelow(65536)
    wire = query_wire(qid, qname, qtype)
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(server[0], server[1])
        try:
            writer.write(len(wire).to_bytes(2, "big") + wire)
            await writer.drain()
            length = int.from_bytes(await reader.readexactly(2), "big")
            data = await reader.readexactly(length)
        finally:
            writer.close()
    return data, parse_response(data, qid, qname + struct.pack("!HH", qtype, CLASS_IN))


# --- the resolver ------------------------------------------------------------------------


class AnswerCache:
    """Answers by (name, type) until their TTL runs out; at most ``max_entries``, oldest out first.

    Plain values only (no sockets, no futures), so one cache may serve
    several event loops of a process: locate's ``asyncio.run`` per batch and
    the worker's threads share what they learnt.
    """

    def __init__(self, *, max_ttl: float = 300.0, max_entries: int = 200_000) -> None:
        self.max_ttl = max_ttl
        self.max_entries = max_entries
        self._items: dict[tuple[str, int], tuple[float, Answer]] = {}

    def get(self, key: tuple[str, int]) -> Answer | None:
        hit = self._items.get(key)
        if hit is None:
            return None
        if hit[0] > time.monotonic():
            return hit[1]
        self._items.pop(key, None)
        return None

    def put(self, key: tuple[str, int], answer: Answer) -> None:
        # A zero TTL (rebinding) and failures are never kept.
        if answer.ttl <= 0 or answer.outcome not in ("ok", "nxdomain", "no_address"):
            return
        if len(self._items) >= self.max_entries:
            # The oldest tenth (dicts keep insertion order): no bookkeeping per hit.
            for old in list(self._items)[: max(len(self._items) // 10, 1)]:
                self._items.pop(old, None)
        self._items[key] = (time.monotonic() + min(answer.ttl, self.max_ttl), answer)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class StubResolver:
    """Ask ``servers`` (host, port) for A/AAAA records, with a TTL-honouring cache.

    One per event loop (its sockets belong to the loop).  ``lookup`` never
    raises for what the name or the server does: the Answer says.
    """

    def __init__(
        self,
        servers: list[tuple[str, int]],
        *,
        timeout: float = 5.0,
        max_ttl: float = 300.0,
        max_entries: int = 200_000,
        cache: AnswerCache | None = None,
    ) -> None:
        self.servers = list(servers)
        self.timeout = timeout
        self.cache = (
            cache if cache is not None else AnswerCache(max_ttl=max_ttl, max_entries=max_entries)
        )
        self._inflight: dict[tuple[str, int], asyncio.Future[Answer]] = {}
        self._udp = _UdpClient()
        self.queries = 0
        self.hits = 0

    async def lookup(self, host: str, qtype: int = A) -> Answer:
        host = host.rstrip(".").lower()
        key = (host, qtype)
        cached = self.cache.get(key)
        if cached is not None:
            self.hits += 1
            return cached
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            answer = await self._resolve(host, qtype)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # nobody else may be waiting
            raise
        else:
            future.set_result(answer)
        finally:
            self._inflight.pop(key, None)
        self.cache.put(key, answer)
        return answer

    async def addresses(self, host: str, *, both: bool = False) -> Answer:
        """A records; AAAA when there are none (``both``: A and AAAA, merged)."""
        if both:
            four, six = await asyncio.gather(self.lookup(host, A), self.lookup(host, AAAA))
            return merge(four, six)
        four = await self.lookup(host, A)
        if four.outcome != "no_address":
            return four
        six = await self.lookup(host, AAAA)
        return six if six.ok or six.outcome != "no_address" else four

    async def _resolve(self, host: str, qtype: int) -> Answer:
        try:
            qname = name_wire(host)
        except DnsFailure as exc:
            return Answer(exc.outcome, at=time.time(), error=str(exc))
        chain: list[str] = []
        name = host
        ttl_floor: float | None = None
        for _hop in range(MAX_CNAME_HOPS):
            answer = await self._ask(name, qname, qtype)
            chain.extend(answer.cnames)
            if answer.ttl and answer.cnames:
                ttl_floor = answer.ttl if ttl_floor is None else min(ttl_floor, answer.ttl)
            if answer.outcome != "no_address" or not answer.cnames:
                break
            # The server gave the CNAME but not its target's records (another
            # zone, a forwarder that does not chase): ask for the target.
            target = answer.cnames[-1]
            if target == host or target in chain[:-1]:
                return Answer("cname_loop", cnames=tuple(chain), at=answer.at, error="CNAME loop")
            name = target
            try:
                qname = name_wire(target)
            except DnsFailure as exc:
                return Answer("error", cnames=tuple(chain), at=answer.at, error=str(exc))
        else:
            return Answer(
                "cname_loop",
                cnames=tuple(chain),
                at=time.time(),
                error=f"more than {MAX_CNAME_HOPS} CNAME hops",
            )
        if chain == list(answer.cnames):
            return answer
        ttl = answer.ttl if ttl_floor is None else min(answer.ttl or ttl_floor, ttl_floor)
        return Answer(
            answer.outcome,
            answer.addresses,
            tuple(chain),
            ttl,
            answer.at,
            answer.error,
            answer.truncated,
        )

    async def _ask(self, host: str, qname: bytes, qtype: int) -> Answer:
        if not self.servers:
            return Answer("servfail", at=time.time(), error="no DNS resolver configured")
        error = ""
        timed_out = True
        # Two tries per server (UDP is lossy under load), each with a fresh id.
        attempt = max(self.timeout / 2, 0.05)
        deadline = time.monotonic() + self.timeout
        for server in self.servers:
            for _try in range(2):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    self.queries += 1
                    data, parsed, _qid = await self._udp.ask(
                        qname, qtype, server, min(attempt, left)
                    )
                    if parsed.truncated:
                        data, parsed = await _ask_tcp(qname, qtype, server, max(left, 0.05))
                    return answer_from(data, parsed, host, qtype, time.time())
                except TimeoutError:
                    error = "timed out"
                except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                    timed_out = False
                    error = f"{type(exc).__name__}: {exc}"[:200]
        if timed_out:
            return Answer("timeout", at=time.time(), error=f"no answer within {self.timeout:g}s")
        return Answer("error", at=time.time(), error=f"DNS query failed: {error}")

    def close(self) -> None:
        """Close the sockets (the cache, which may be shared, is left as it is)."""
        self._udp.close()


def merge(four: Answer, six: Answer) -> Answer:
    """The A and AAAA answers of one name as one (for locate, which wants both)."""
    ips = list(dict.fromkeys(four.addresses + six.addresses))
    cnames = tuple(dict.fromkeys(four.cnames + six.cnames))
    if ips:
        ttls = [a.ttl for a in (four, six) if a.ok]
        return Answer(
            "ok",
            tuple(ips[:MAX_ADDRESSES]),
            cnames,
            min(ttls),
            min(a.at for a in (four, six) if a.ok),
            truncated=len(ips) > MAX_ADDRESSES or four.truncated or six.truncated,
        )
    # The more telling failure (locate's order of precedence).
    order = ["nxdomain", "cname_loop", "servfail", "timeout", "error", "invalid", "no_address"]
    worst = min(
        (four, six), key=lambda a: order.index(a.outcome) if a.outcome in order else len(order)
    )
    return Answer(worst.outcome, (), cnames, 0.0, worst.at, worst.error)
