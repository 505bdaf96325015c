"""The sandbox's web sites: HTTP and HTTPS on every scenario address, routed by Host.

Each distinct site address gets a listening socket per scheme, so the address a
checker connects to is the one DNS gave it, and a ``refused`` takedown closes that
address's sockets: connection refused, as from a server that was switched off.
HTTPS certificates come from a CA made at start (trustme), one per host name,
issued on first use through SNI.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import ipaddress
import logging
import socket
import ssl
import struct
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import trustme
from aiohttp import web
from multidict import CIMultiDict

from takedown.sandbox.world import SiteRuntime, World

log = logging.getLogger(__name__)

SERVER_HEADER = "Apache/2.4.62 (Unix)"

# The "malware": a few harmless bytes with a fixed hash, so evidence can be checked.
MALWARE_BYTES = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    b"TAKEDOWN-SANDBOX-MALWARE-SAMPLE: harmless test bytes, not a program.\r\n"
)
MALWARE_SHA256 = hashlib.sha256(MALWARE_BYTES).hexdigest()

# Trap sizes and times: big enough to defeat a fetcher without limits, bounded so
# a sandbox never runs forever.
SLOW_FIRST_BYTE = 3.0  # seconds before the status line
SLOW_BYTE_INTERVAL = 1.0  # then one byte this often
SLOW_TOTAL = 60.0
# trickle: the kit's page one byte at a time; about 800 bytes take 80 s, longer
# than any sane read or total fetch timeout, while a browser shows it as it comes.
TRICKLE_BYTE_INTERVAL = 0.1
# hostile-headers: as many cookies as the reporter's site sent, and one header
# past the 8 KB that many HTTP clients (aiohttp's default) accept.
HOSTILE_COOKIES = 99
HOSTILE_HEADER_BYTES = 12 * 1024
HUGE_BYTES = 1 << 30
GZIP_BOMB_BYTES = 1 << 30
PRIVATE_REDIRECT = "http://0.0.0.0/latest/meta-data/iam/security-credentials/"

_NOT_FOUND = (
    b'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
    b"<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n"
    b"<p>The requested URL was not found on this server.</p>\n</body></html>\n"
)
_GONE = (
    b'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
    b"<title>410 Gone</title>\n</head><body>\n<h1>Gone</h1>\n"
    b"<p>The requested resource is no longer available on this server and there is no "
    b"forwarding address. Please remove all references to this resource.</p>\n</body></html>\n"
)
_SUSPENDED = (
    b'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Account Suspended</title>'
    b'</head>\n<body><div style="text-align:center;margin-top:10%">'
    b"<h1>Account Suspended</h1>\n<p>This Account has been suspended.</p>\n"
    b"<p>Contact your hosting provider for more information.</p></div></body></html>\n"
)


def phishing_page(brand: str, path: str) -> bytes:
    b = html.escape(brand)
    action = html.escape(path, quote=True)
    return (
        '<!DOCTYPE html>\n<html lang="ja"><head><meta charset="utf-8">'
        f"<title>{b} | ログイン - Login</title></head>\n<body>\n"
        f'<div class="box"><h1>{b}</h1>\n'
        f"<p>{b} インターネットバンキング: お客様情報の確認のため、ログインしてください。</p>\n"
        f"<p>Please sign in to {b} to verify your account.</p>\n"
        f'<form method="post" action="{action}">\n'
        '<label>ID <input type="text" name="user" autocomplete="username"></label>\n'
        '<label>Password <input type="password" name="pass"></label>\n'
        '<button type="submit">Login</button>\n</form></div>\n</body></html>\n'
    ).encode()


def _gzip_bomb() -> bytes:
    """A gzip body of GZIP_BOMB_BYTES zeros, about 1 MiB on the wire.

    A full flush resets the compressor, so one compressed megabyte of zeros can be
    repeated as is; building it this way takes milliseconds where compressing the
    whole gigabyte takes seconds.
    """
    chunk = 1 << 20
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = comp.compress(b"\0" * chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    count = GZIP_BOMB_BYTES // chunk
    crc = 0
    zeros = b"\0" * chunk
    for _ in range(count):
        crc = zlib.crc32(zeros, crc)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc & 0xFFFFFFFF, GZIP_BOMB_BYTES & 0xFFFFFFFF)
    return header + segment * count + end + trailer


class Farm:
    def __init__(self, world: World, ca: trustme.CA, untrusted_ca: trustme.CA) -> None:
        self.world = world
        self.ca = ca
        self.untrusted_ca = untrusted_ca
        self.http_port = 0
        self.https_port = 0
        self.requests: Counter[str] = Counter()
        self.refused: set[str] = set()
        self._runner: web.AppRunner | None = None
        self._sites: dict[tuple[str, str], web.BaseSite] = {}
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._pages: dict[str, bytes] = {}
        self._bomb: bytes | None = None
        self._bomb_lock = asyncio.Lock()
        ips: dict[str, None] = {}
        for rt in world.sites.values():
            ips[rt.site.ip] = None
        self.ips = list(ips)

    # --- lifecycle ---

    async def start(self, http_port: int = 0, https_port: int = 0) -> None:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        http_socks = _bind_all(self.ips, http_port)
        https_socks = _bind_all(self.ips, https_port)
        self.http_port = http_socks[self.ips[0]].getsockname()[1] if self.ips else 0
        self.https_port = https_socks[self.ips[0]].getsockname()[1] if self.ips else 0
        for ip in self.ips:
            await self._listen(ip, "http", http_socks[ip])
            await self._listen(ip, "https", https_socks[ip])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _listen(self, ip: str, scheme: str, sock: socket.socket) -> None:
        assert self._runner is not None
        ctx = self._default_context(ip) if scheme == "https" else None
        site = web.SockSite(self._runner, sock, ssl_context=ctx)
        await site.start()
        self._sites[(ip, scheme)] = site

    async def refuse(self, ip: str) -> None:
        """Stop listening on ``ip``: new connections are refused."""
        if ip in self.refused:
            return
        self.refused.add(ip)
        for scheme in ("http", "https"):
            site = self._sites.pop((ip, scheme), None)
            if site is not None:
                await site.stop()

    async def unrefuse(self, ip: str) -> None:
        if ip not in self.refused:
            return
        self.refused.discard(ip)
        for scheme, port in (("http", self.http_port), ("https", self.https_port)):
            await self._listen(ip, scheme, _bind(ip, port))

    # --- TLS ---

    def _default_context(self, ip: str) -> ssl.SSLContext:
        ctx = self._context_for(ip, self.ca)
        ctx.sni_callback = self._sni
        return ctx

    def _context_for(self, name: str, ca: trustme.CA) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(name).configure_cert(ctx)
        return ctx

    def _sni(self, sslobj: ssl.SSLObject, server_name: str | None, _ctx: ssl.SSLContext) -> None:
        if not server_name:
            return
        name = server_name.lower()
        ctx = self._contexts.get(name)
        if ctx is None:
            runtimes = self.world.by_host.get(name, [])
            bad = any(rt.site.trap == "bad-tls" for rt in runtimes)
            # A name the farm does not host gets no certificate of its own: the
            # client sees the address's certificate and a name mismatch.
            if not runtimes:
                return
            ctx = self._context_for(name, self.untrusted_ca if bad else self.ca)
            self._contexts[name] = ctx
        sslobj.context = ctx

    # --- requests ---

    def _host(self, request: web.Request) -> str:
        host = request.headers.get("Host", "")
        if host.startswith("["):
            return host[1 : host.find("]")].lower()
        return host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        transport = request.transport
        local = transport.get_extra_info("sockname") if transport is not None else None
        local_ip = local[0] if local else ""
        if local_ip in self.refused:
            # A kept-alive connection outlives the listening socket; cut it as a
            # machine switched off would.
            if transport is not None:
                transport.abort()
            raise web.HTTPServiceUnavailable()
        host = self._host(request)
        if not host:
            host = local_ip
        rt, on_host = self.world.site_for(host, request.path)
        if any(r.status == "down" and r.style == "suspended" for r in on_host):
            return self._page(200, _SUSPENDED)
        if rt is None:
            return self._page(404, _NOT_FOUND)
        self.requests[rt.site.id] += 1
        if rt.status == "absent":
            return self._page(404, _NOT_FOUND)
        if rt.status == "down":
            if rt.style == "410":
                return self._page(410, _GONE)
            if rt.style != "nxdomain":
                return self._page(404, _NOT_FOUND)
            # nxdomain: only the name was taken away; the server still has the files.
        trap = rt.site.trap
        if trap and trap not in ("bad-tls", "dns-rebind"):
            return await self._trap(request, rt, trap)
        return self._content(request, rt)

    def _page(self, status: int, body: bytes, content_type: str = "text/html") -> web.Response:
        return web.Response(
            status=status,
            body=body,
            content_type=content_type,
            charset="utf-8" if content_type.startswith("text/") else None,
            headers={"Server": SERVER_HEADER},
        )

    def _content(self, request: web.Request, rt: SiteRuntime) -> web.StreamResponse:
        site = rt.site
        if site.kind == "malware":
            name = Path(site.path).name or "download.exe"
            return web.Response(
                body=MALWARE_BYTES,
                content_type="application/x-msdownload",
                headers={
                    "Server": SERVER_HEADER,
                    "Content-Disposition": f'attachment; filename="{name}"',
                },
            )
        if request.method == "POST":
            raise web.HTTPFound(site.path, headers={"Server": SERVER_HEADER})
        return self._page(200, self._phishing(rt))

    def _phishing(self, rt: SiteRuntime) -> bytes:
        page = self._pages.get(rt.site.id)
        if page is None:
            page = self._pages[rt.site.id] = phishing_page(rt.site.brand, rt.site.path)
        return page

    async def _trickle(self, request: web.Request, page: bytes) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={"Server": SERVER_HEADER, "Content-Type": "text/html; charset=utf-8"}
        )
        try:
            await resp.prepare(request)
            for i in range(min(len(page), int(SLOW_TOTAL / TRICKLE_BYTE_INTERVAL))):
                await resp.write(page[i : i + 1])
                await asyncio.sleep(TRICKLE_BYTE_INTERVAL)
        except (ConnectionError, RuntimeError):
            pass
        return resp

    async def _trap(self, request: web.Request, rt: SiteRuntime, trap: str) -> web.StreamResponse:
        if trap == "redirect-loop":
            try:
                n = int(request.query.get("r", "0"))
            except ValueError:
                n = 0
            raise web.HTTPFound(f"{rt.site.path}?r={n + 1}", headers={"Server": SERVER_HEADER})
        if trap == "redirect-to-private":
            raise web.HTTPFound(PRIVATE_REDIRECT, headers={"Server": SERVER_HEADER})
        if trap == "gzip-bomb":
            body = await self._gzip_bomb()
            return web.Response(
                body=body,
                headers={
                    "Server": SERVER_HEADER,
                    "Content-Type": "text/html; charset=utf-8",
                    "Content-Encoding": "gzip",
                },
            )
        if trap == "hostile-headers":
            headers = CIMultiDict(
                ("Set-Cookie", f"kit{n}=s{n:04d}; Path=/; HttpOnly") for n in range(HOSTILE_COOKIES)
            )
            headers["Server"] = SERVER_HEADER
            headers["X-Kit-Padding"] = "k" * HOSTILE_HEADER_BYTES
            return web.Response(
                body=self._phishing(rt), content_type="text/html", charset="utf-8", headers=headers
            )
        if trap == "trickle":
            return await self._trickle(request, self._phishing(rt))
        if trap == "huge":
            resp = web.StreamResponse(
                headers={"Server": SERVER_HEADER, "Content-Type": "text/html"}
            )
            await resp.prepare(request)
            chunk = b"<p>" + b"A" * (65536 - 8) + b"</p>\n "
            sent = 0
            try:
                while sent < HUGE_BYTES:
                    await resp.write(chunk)
                    sent += len(chunk)
            except (ConnectionError, RuntimeError):
                pass
            return resp
        # slow: a trickle that never finishes within any sane fetch timeout
        await asyncio.sleep(SLOW_FIRST_BYTE)
        trickle = web.StreamResponse(headers={"Server": SERVER_HEADER, "Content-Type": "text/html"})
        waited = SLOW_FIRST_BYTE
        try:
            # The client may have given up before the status line: nothing to send then.
            await trickle.prepare(request)
            while waited < SLOW_TOTAL:
                await trickle.write(b" ")
                await asyncio.sleep(SLOW_BYTE_INTERVAL)
                waited += SLOW_BYTE_INTERVAL
        except (ConnectionError, RuntimeError):
            pass
        return trickle

    async def _gzip_bomb(self) -> bytes:
        async with self._bomb_lock:
            if self._bomb is None:
                self._bomb = await asyncio.get_running_loop().run_in_executor(None, _gzip_bomb)
        return self._bomb


def _bind(ip: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ipaddress.ip_address(ip).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        sock.listen(1024)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _bind_all(ips: list[str], port: int) -> dict[str, socket.socket]:
    """One socket per address, all on the same port (``port`` or one found free)."""
    if not ips:
        return {}
    last_error: OSError | None = None
    for _attempt in range(30):
        socks: dict[str, socket.socket] = {}
        try:
            first = _bind(ips[0], port)
            socks[ips[0]] = first
            chosen = first.getsockname()[1]
            for ip in ips[1:]:
                socks[ip] = _bind(ip, chosen)
            return socks
        except OSError as exc:
            last_error = exc
            for s in socks.values():
                s.close()
            if port:
                raise OSError(
                    f"cannot listen on port {port} of every site address: {exc}"
                ) from None
    raise OSError(f"no port free on every site address: {last_error}")


def describe(rt: SiteRuntime) -> dict[str, Any]:
    return {"id": rt.site.id, "status": rt.status, "style": rt.style}
