"""Small real servers for the locate tests: DNS (dnslib, UDP+TCP), RDAP (aiohttp)
and WHOIS (asyncio), all on 127.0.0.1 with ports chosen free.

The whole-world integration tests use the sandbox (takedown/sandbox); these
stand-ins exist for the cases the sandbox does not play: a registry that
answers 500, a WHOIS server that hangs, 429 storms, DNS CNAME loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web
from dnslib import AAAA, CNAME, QTYPE, RCODE, RR, TXT, A, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

T = TypeVar("T")


class LoopThread:
    """An asyncio loop in a daemon thread, for servers that blocking code talks to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


# --- DNS ---------------------------------------------------------------------------------


class Zone(BaseResolver):
    """name -> records; ``{"a": [...], "aaaa": [...], "cname": str, "rcode": str}``."""

    def __init__(self, names: dict[str, dict[str, Any]]) -> None:
        self.names = names
        self.queries: Counter[str] = Counter()

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        qname = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        self.queries[qname] += 1
        rec = self.names.get(qname)
        if rec is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        if rec.get("rcode"):
            reply.header.rcode = getattr(RCODE, rec["rcode"])
            return reply
        name = qname
        chain = 0
        # Follow CNAMEs inside the zone only when asked to ("chase"), as a
        # recursive resolver would; otherwise answer the CNAME alone.
        while rec.get("cname"):
            reply.add_answer(RR(name, QTYPE.CNAME, rdata=CNAME(rec["cname"]), ttl=60))
            if not rec.get("chase") or chain > 20:
                return reply
            chain += 1
            name = rec["cname"]
            rec = self.names.get(name, {})
        if qtype == "A":
            for ip in rec.get("a", []):
                reply.add_answer(RR(name, QTYPE.A, rdata=A(ip), ttl=60))
        elif qtype == "AAAA":
            for ip in rec.get("aaaa", []):
                reply.add_answer(RR(name, QTYPE.AAAA, rdata=AAAA(ip), ttl=60))
        if not reply.rr and rec.get("txt"):
            reply.add_auth(RR(name, QTYPE.TXT, rdata=TXT(rec["txt"]), ttl=60))
        return reply


class _SmallUdpHandler(DNSHandler):
    """A classic 512-byte UDP limit: big answers arrive truncated (TC set, the
    question kept, as real servers do) and the client must retry over TCP."""

    def get_reply(self, data: bytes) -> bytes:
        request = DNSRecord.parse(data)
        reply = self.server.resolver.resolve(request, self)
        packed: bytes = reply.pack()
        if self.protocol == "udp" and len(packed) > 512:
            short = request.reply()
            short.header.tc = 1
            packed = short.pack()
        return packed


class DnsTestServer:
    def __init__(self, names: dict[str, dict[str, Any]]) -> None:
        self.zone = Zone(names)
        quiet = DNSLogger(logf=lambda _msg: None)
        # UDP and TCP must share a port; the free UDP port may be taken for TCP.
        for _attempt in range(20):
            udp = DNSServer(
                self.zone, address="127.0.0.1", port=0, handler=_SmallUdpHandler, logger=quiet
            )
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(
                    self.zone,
                    address="127.0.0.1",
                    port=port,
                    tcp=True,
                    handler=_SmallUdpHandler,
                    logger=quiet,
                )
            except OSError:
                udp.server.server_close()
                continue
            self.udp, self.tcp, self.port = udp, tcp, port
            break
        else:  # pragma: no cover - 20 collisions in a row
            raise OSError("no port free for both UDP and TCP")

    def start(self) -> DnsTestServer:
        self.udp.start_thread()
        self.tcp.start_thread()
        return self

    def stop(self) -> None:
        self.udp.stop()
        self.tcp.stop()
        self.udp.server.server_close()
        self.tcp.server.server_close()


class SilentUdp:
    """A UDP port that never answers: a DNS server that has gone away."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()


# --- RDAP and WHOIS ------------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RegistryServer:
    """An aiohttp app (RDAP) and raw WHOIS handlers, started on a LoopThread."""

    def __init__(self, loop: LoopThread) -> None:
        self.loop = loop
        self.app = web.Application()
        self.hits: Counter[str] = Counter()
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._whois: list[asyncio.Server] = []
        self._closing = asyncio.Event()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def route(self, path: str, handler: Handler) -> None:
        async def counted(request: web.Request) -> web.StreamResponse:
            self.hits[request.path] += 1
            return await handler(request)

        self.app.router.add_get(path, counted)

    def start(self) -> RegistryServer:
        async def go() -> int:
            self._runner = web.AppRunner(self.app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

        self.port = self.loop.run(go())
        return self

    def whois(self, answer: Callable[[str], Awaitable[bytes | None]]) -> int:
        """A WHOIS server on its own port; ``answer(query)`` returns bytes, or None to hang."""

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            line = (await reader.readline()).decode("utf-8", "replace").strip()
            self.hits[f"whois:{line}"] += 1
            data = await answer(line)
            if data is None:
                # Hang until the test ends (or 5 s), then hang up without a word.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), 5)
            else:
                writer.write(data)
                await writer.drain()
            writer.close()

        async def go() -> int:
            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            self._whois.append(server)
            port: int = server.sockets[0].getsockname()[1]
            return port

        return self.loop.run(go())

    def stop(self) -> None:
        async def go() -> None:
            self._closing.set()
            for server in self._whois:
                server.close()
            if self._runner is not None:
                await self._runner.cleanup()

        self.loop.run(go())


def rdap_json(doc: dict[str, Any], status: int = 200, **headers: str) -> web.Response:
    return web.json_response(
        doc, status=status, content_type="application/rdap+json", headers=headers
    )


def bootstrap_docs(base: str, networks: list[str], tlds: list[str] | None = None) -> dict[str, Any]:
    v4 = [n for n in networks if ":" not in n]
    v6 = [n for n in networks if ":" in n]
    docs = {
        "ipv4": {"version": "1.0", "services": [[v4, [base]]] if v4 else []},
        "ipv6": {"version": "1.0", "services": [[v6, [base]]] if v6 else []},
        "asn": {"version": "1.0", "services": []},
        "dns": {"version": "1.0", "services": [[tlds, [base]]] if tlds else []},
    }
    return docs
