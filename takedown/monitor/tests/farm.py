"""A tiny hostile web farm and DNS on loopback for the monitor's tests.

The farm listens on 127.0.0.2 (HTTP and HTTPS with a trustme CA) and a
"canary" listens on 127.0.0.1 at the same HTTP port: the fetcher must never
reach it (127.0.0.1 is refused even when loopback targets are allowed), so any
hit on the canary is a leak.  DNS is the sandbox's authoritative server.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import trustme
from aiohttp import web
from dnslib import RCODE, DNSRecord
from multidict import CIMultiDict

from takedown.sandbox.dnsserver import DnsServer, DnsTable

FARM_IP = "127.0.0.2"
OTHER_IP = "127.0.0.3"
CANARY_IP = "127.0.0.1"
ZONE = "bank.example"
BRAND = "Example Bank"
PHISH_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<title>Example Bank Login</title></head><body><h1>Example Bank</h1>
<form method="post" action="/post"><input type="text" name="user">
<input type="password" name="pass"><input type="submit" value="Log in"></form>
<script>document.title = document.title;</script></body></html>"""
SUSPENDED_PAGE = """<!doctype html><html><head><title>Account Suspended</title></head>
<body><h1>Account Suspended</h1><p>This account has been suspended.
Contact your hosting provider.</p></body></html>"""
PARKED_PAGE = """<!doctype html><html><head><title>bank.example</title></head>
<body><h1>This domain is for sale</h1><p>Buy this domain. Related links.</p></body></html>"""
OTHER_PAGE = """<!doctype html><html><head><title>Welcome</title></head>
<body><p>A small bakery in Osaka. Opening hours 9-17.</p></body></html>"""
MALWARE = hashlib.sha256(b"seed").digest() * 10_000  # 320,000 bytes, fixed hash
# 64 MiB of zeros gzip to about 64 KiB.
BOMB = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
HEADER_FLOOD = "x" * 20_000
# Past the fetcher's cap on all headers together (256 KiB), in lines of 1 KiB.
HEADER_BLOCK = [(f"X-Pad-{n}", "p" * 1024) for n in range(300)]


class FarmDnsTable(DnsTable):
    """The sandbox's DNS, plus names whose look-up fails with an error code.

    What a recursive resolver answers when the name's own servers are broken
    or silent (SERVFAIL), or when it will not serve us (REFUSED): the look-up
    failed, the name may well exist.
    """

    def __init__(self) -> None:
        super().__init__()
        self.failing: dict[str, int] = {}

    def resolve(self, query: DNSRecord) -> DNSRecord:
        name = str(query.q.qname).lower().rstrip(".") if query.questions else ""
        rcode = self.failing.get(name)
        if rcode is None:
            return super().resolve(query)
        reply = query.reply()
        reply.header.rcode = rcode
        return reply


def _free_port(ip: str) -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


class LoopThread:
    """An asyncio loop in a daemon thread, for servers that tests talk to synchronously."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class Farm:
    def __init__(self, tmp: Path) -> None:
        self.hits: Counter[str] = Counter()
        self.canary_hits: Counter[str] = Counter()
        self.seen_headers: list[dict[str, str]] = []
        # path -> mode, switched by tests between rounds ("up", "suspended",
        # "other", "reset" or an HTTP status such as "404" or "503").
        self.modes: dict[str, str] = {}
        self.ca = trustme.CA()
        self.ca_file = tmp / "farm-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self._runners: list[web.AppRunner] = []
        self.table = FarmDnsTable()
        self.dns = DnsServer(self.table)
        self.http_port = 0
        self.https_port = 0

    # --- the farm's pages ---

    async def handler(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.hits[path] += 1
        self.seen_headers.append(dict(request.headers))
        mode = self.modes.get(path)
        if mode == "reset":
            return self._reset(request)
        if mode is not None:
            return self._mode_response(mode)
        route: dict[str, Callable[[web.Request], Any]] = {
            "/slow": self.slow,
            "/huge": self.huge,
            "/bomb": self.bomb,
            "/cookie-set": self.cookie_set,
            "/cookie-echo": self.cookie_echo,
            "/cookie-check": self.cookie_echo,
            "/cloak": self.cloak,
            "/cloak503": self.cloak,
            "/cloak503-gone": self.cloak,
        }
        if path in route:
            return await route[path](request)
        if path == "/loop":
            raise web.HTTPFound("/loop2")
        if path == "/loop2":
            raise web.HTTPFound("/loop")
        if path.startswith("/chain/"):
            n = int(path.rsplit("/", 1)[1])
            if n > 0:
                raise web.HTTPFound(f"/chain/{n - 1}")
            return web.Response(text=PHISH_PAGE, content_type="text/html")
        if path == "/to-private":
            raise web.HTTPFound("http://127.0.0.1/canary")
        if path == "/to-metadata":
            raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")
        if path == "/to-mapped":
            # ::ffff:127.0.0.1 reaches 127.0.0.1 on a dual-stack socket.
            raise web.HTTPFound(f"http://[::ffff:127.0.0.1]:{self.http_port}/canary")
        if path == "/to-ftp":
            raise web.HTTPFound("ftp://bank.example/file")
        if path == "/bigheader":
            # One header of 20 KB (aiohttp's own default cap is 8 KB), then the kit.
            return web.Response(
                text=PHISH_PAGE, content_type="text/html", headers={"X-Flood": HEADER_FLOOD}
            )
        if path == "/cookies":
            # The reporter's site: 99 Set-Cookie headers, then the kit.
            cookies = CIMultiDict(("Set-Cookie", f"c{n}=v{n}; Path=/") for n in range(99))
            return web.Response(text=PHISH_PAGE, content_type="text/html", headers=cookies)
        if path == "/header-block":
            return web.Response(
                text=PHISH_PAGE, content_type="text/html", headers=CIMultiDict(HEADER_BLOCK)
            )
        if path.startswith("/early-hints"):
            # Interim answers first (aiohttp reads past them), then the real one.
            if request.transport is not None:
                request.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                request.transport.write(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n")
            block = CIMultiDict(HEADER_BLOCK if path == "/early-hints-block" else [])
            return web.Response(text=PHISH_PAGE, content_type="text/html", headers=block)
        if path == "/many-headers":
            many = CIMultiDict((f"X-{n}", "1") for n in range(1500))
            return web.Response(text=PHISH_PAGE, content_type="text/html", headers=many)
        if path.startswith("/status/"):
            return web.Response(status=int(path.rsplit("/", 1)[1]), text="status page")
        if path == "/reset":
            return self._reset(request)
        if path == "/malware.exe":
            return web.Response(body=MALWARE, content_type="application/octet-stream")
        if path == "/parked":
            return web.Response(text=PARKED_PAGE, content_type="text/html")
        if path == "/suspended":
            return self._mode_response("suspended")
        if path == "/gone404":
            return self._mode_response("404")
        if path == "/with-private-img":
            html = PHISH_PAGE.replace(
                "</body>",
                f'<img src="http://127.0.0.1:{self.http_port}/canary-img">'
                '<img src="http://169.254.169.254/latest/meta-data/">'
                f'<iframe src="http://{CANARY_IP}/canary-frame"></iframe></body>',
            )
            return web.Response(text=html, content_type="text/html")
        return self._mode_response("up")

    def _reset(self, request: web.Request) -> web.Response:
        # Hang up on the visitor without an answer, as kits do to crawlers.
        if request.transport is not None:
            request.transport.abort()
        raise web.HTTPServiceUnavailable()

    def _mode_response(self, mode: str) -> web.Response:
        if mode.isdigit():
            return web.Response(status=int(mode), text=f"status {mode}")
        if mode == "suspended":
            return web.Response(text=SUSPENDED_PAGE, content_type="text/html")
        if mode == "other":
            return web.Response(text=OTHER_PAGE, content_type="text/html")
        return web.Response(text=PHISH_PAGE, content_type="text/html")

    async def slow(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/html"})
        await resp.prepare(request)
        try:
            for _ in range(600):
                await resp.write(b"<")
                await asyncio.sleep(0.1)
        except (ConnectionError, asyncio.CancelledError):
            pass
        return resp

    async def huge(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/html"})
        await resp.prepare(request)
        chunk = b"<p>" + b"A" * 65_533
        try:
            for _ in range(100_000):  # 6.5 GB if nobody stops reading
                await resp.write(chunk)
        except (ConnectionError, asyncio.CancelledError):
            pass
        return resp

    async def bomb(self, request: web.Request) -> web.Response:
        return web.Response(
            body=BOMB, headers={"Content-Encoding": "gzip", "Content-Type": "text/html"}
        )

    async def cookie_set(self, request: web.Request) -> web.Response:
        return web.Response(
            status=302, headers={"Location": "/cookie-echo", "Set-Cookie": "kit=victim-1; Path=/"}
        )

    async def cookie_echo(self, request: web.Request) -> web.Response:
        return web.Response(text=f"cookie=[{request.headers.get('Cookie', '')}]")

    async def cloak(self, request: web.Request) -> web.Response:
        """The kit for phones; desktops get 404 (``/cloak``) or 503 (``/cloak503*``)."""
        desktop_status = 503 if request.path.startswith("/cloak503") else 404
        if "iPhone" not in request.headers.get("User-Agent", ""):
            return web.Response(status=desktop_status, text="Not Found")
        if request.path == "/cloak503-gone":
            return web.Response(status=410, text="Gone")
        return web.Response(text=PHISH_PAGE, content_type="text/html")

    async def canary(self, request: web.Request) -> web.Response:
        self.canary_hits[request.path] += 1
        return web.Response(text=PHISH_PAGE, content_type="text/html")

    # --- life cycle ---

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handler)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        self._runners.append(runner)
        self.http_port = _free_port(FARM_IP)
        for ip in (FARM_IP, OTHER_IP):
            await web.TCPSite(runner, ip, self.http_port).start()
        # The canary sits where a redirect to http://127.0.0.1/ would land.
        canary_app = web.Application()
        canary_app.router.add_route("*", "/{tail:.*}", self.canary)
        canary_runner = web.AppRunner(canary_app, access_log=None, shutdown_timeout=0.5)
        await canary_runner.setup()
        self._runners.append(canary_runner)
        await web.TCPSite(canary_runner, CANARY_IP, self.http_port).start()

        server_cert = self.ca.issue_cert(f"secure.{ZONE}", f"login.{ZONE}", FARM_IP)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_cert.configure_cert(ctx)
        self.https_port = _free_port(FARM_IP)
        await web.TCPSite(runner, FARM_IP, self.https_port, ssl_context=ctx).start()

        await self.dns.start()
        t = self.table
        t.add_zone(ZONE, CANARY_IP)
        for name in ("login", "secure", "shop", "other", "www", "malware", "cloak"):
            t.add_address(f"{name}.{ZONE}", FARM_IP)
        t.add_address(f"second.{ZONE}", OTHER_IP)
        t.add_address(f"lan.{ZONE}", "10.0.0.1")
        t.add_address(f"meta.{ZONE}", "169.254.169.254")
        t.add_address(f"self.{ZONE}", CANARY_IP)
        t.add_address(f"zero.{ZONE}", "0.0.0.0")  # noqa: S104 - a DNS answer under test
        # dnslib wants the hex form of ::ffff:127.0.0.2
        t.add_address(f"mapped.{ZONE}", "::ffff:7f00:2")
        t.add_address(f"mixed.{ZONE}", "10.0.0.1")
        t.add_address(f"mixed.{ZONE}", FARM_IP)
        t.add_address(f"rebind.{ZONE}", FARM_IP)
        t.set_rebind(f"rebind.{ZONE}")
        t.add_zone("empty.example", CANARY_IP)
        t.add_txt("noaddr.empty.example", "v=spf1 -all")
        for name, rcode in (("lame", RCODE.SERVFAIL), ("refusing", RCODE.REFUSED)):
            t.add_address(f"{name}.{ZONE}", FARM_IP)
            t.failing[f"{name}.{ZONE}"] = rcode

    async def stop(self) -> None:
        await self.dns.stop()
        for runner in self._runners:
            await runner.cleanup()

    @property
    def resolver(self) -> tuple[str, int]:
        return ("127.0.0.1", self.dns.port)
