"""The safe fetcher: GET a URL that an attacker chose, without letting it hurt us.

Framework-free (no Django import): the monitor, the screenshot worker and the
benchmark build a :class:`FetchPolicy` from settings and share one
:class:`Fetcher` per event loop.  What it guarantees (docs/monitor.md):

1. Only ``http`` and ``https``; at most ``max_redirects`` redirects, each one
   followed by hand so that every hop goes through the same checks.
2. Host names are resolved by our own stub resolver (``lib/dnsstub.py``, against
   the configured server), never by the system's, and answers that point at private, loopback,
   link-local, multicast, reserved, unspecified or IPv4-mapped addresses are
   dropped.  The socket factory checks the address again when the socket is
   opened, which also covers IP-literal URLs (aiohttp does not resolve those).
   The address checked is the address connected to, so DNS rebinding between a
   check and a connect cannot slip through.
3. Connect, read and total timeouts; caps on the size of the headers (as big
   as browsers accept: a hostile site must not look "down" to us while a
   victim's browser shows its page), the body and the decompressed body (we
   decompress ourselves, in bounded steps).
4. No cookies across sites: a cookie jar lives for one fetch (one redirect chain).
"""

from __future__ import annotations

import asyncio
import contextvars
import errno
import functools
import hashlib
import ipaddress
import re
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import dns.resolver
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_proto import ResponseHandler
from yarl import URL

from takedown.lib.dnsstub import StubResolver

# The one address guard (IANA special-purpose registries), shared with locate.
from takedown.lib.guard import IPNetwork, address_refusal

DESKTOP_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
# Phishing kits cloak: many serve their page only to phones of the target country.
MOBILE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1"
)
USER_AGENTS = {"desktop": DESKTOP_UA, "mobile": MOBILE_UA}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
# Chromium accepts a status line and headers of up to 256 KiB in all, with no
# limit of its own on a single header or on their number.
MAX_HEADER_BYTES = 256 * 1024
# Header lines per response: no browser counts them, but each costs a few
# Python objects; ten times what a busy real site sends (99 Set-Cookie pass).
MAX_HEADERS = 1000
# Headers kept in a FetchResult (and so in evidence), each value cut at 2 KiB.
KEPT_HEADERS = 100


class Outcome:
    """Error kinds a fetch can end with (``None`` when a response was read)."""

    NXDOMAIN = "nxdomain"
    NO_ADDRESS = "no_address"
    # The look-up failed (SERVFAIL, REFUSED, a broken answer, our resolver
    # unreachable): unlike NXDOMAIN or an empty answer, it says nothing about the name.
    DNS_ERROR = "dns_error"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    TLS_ERROR = "tls_error"
    UNREACHABLE = "unreachable"
    BLOCKED = "blocked"
    REDIRECT_LOOP = "redirect_loop"
    ERROR = "error"
    # Our own code failed; says nothing about the site.
    INTERNAL = "internal"


class FetchFailure(OSError):
    """Raised inside the resolver and the socket factory; ``kind`` is an Outcome.

    An ``OSError`` because aiohttp wraps those from resolvers and socket
    factories into its connector errors, keeping the original as ``os_error``.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class FetchPolicy:
    """Everything the fetcher needs to know, as plain values (no Django here)."""

    allow_networks: tuple[IPNetwork, ...] = ()
    resolver: tuple[str, int] | None = None
    dns_timeout: float = 5.0
    dns_cache_max_ttl: float = 300.0
    # Names the resolver keeps (about 200 bytes each): more than a monitor watches.
    dns_cache_entries: int = 200_000
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 20.0
    max_redirects: int = MAX_REDIRECTS
    max_body: int = 1024 * 1024
    max_header_bytes: int = MAX_HEADER_BYTES
    max_headers: int = MAX_HEADERS
    http_port: int = 80
    https_port: int = 443
    ca_bundle: str = ""
    accept_language: str = "ja,en-US;q=0.9,en;q=0.8"
    concurrency: int = 100
    per_host: int = 4

    def refusal(self, ip: str) -> str | None:
        return _refusal(ip, self.allow_networks)


@functools.lru_cache(maxsize=65_536)
def _refusal(ip: str, allow: tuple[IPNetwork, ...]) -> str | None:
    # A few hundred addresses host most of a monitor's sites; parsing each
    # again for every connection was 3% of a re-check.
    return address_refusal(ip, allow)


@dataclass
class FetchResult:
    url: str
    agent: str = "desktop"
    final_url: str = ""
    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = ""
    body: bytes = b""
    body_sha256: str = ""
    size: int = 0
    truncated: bool = False
    ip: str | None = None
    redirects: list[tuple[int, str]] = field(default_factory=list)
    error: str | None = None
    detail: str = ""
    # Why the site's certificate was refused, when it was: a fetch without
    # verification may follow (browsers let victims click through the warning).
    cert_error: str = ""
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None

    def header(self, name: str) -> str:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return ""


# --- the connect-time guard ------------------------------------------------------


@dataclass
class _Attempt:
    """Per-fetch notes written by the resolver and the socket factory."""

    blocked: list[str] = field(default_factory=list)
    # Last address a socket was opened to (attempts are sequential: no happy eyeballs).
    connected: str | None = None


_attempt: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar(
    "takedown_fetch_attempt", default=None
)


def guarded_socket_factory(policy: FetchPolicy) -> Callable[[Any], socket.socket]:
    """A socket factory for aiohttp that refuses to open sockets to refused addresses."""

    def factory(addr_info: Any) -> socket.socket:
        family, type_, proto, _canon, sockaddr = addr_info
        reason = policy.refusal(sockaddr[0])
        if reason is not None:
            _attempt_blocked(sockaddr[0])
            raise FetchFailure(Outcome.BLOCKED, f"refused to connect: {reason}")
        attempt = _attempt.get()
        if attempt is not None:
            attempt.connected = sockaddr[0]
        return socket.socket(family=family, type=type_, proto=proto)

    return factory


class SafeResolver(AbstractResolver):
    """The stub resolver (``takedown.lib.dnsstub``) against the configured server;
    drops answers we must not reach.

    Answers are cached for their TTL (at most ``dns_cache_max_ttl``, and for
    as many names as the monitor watches), concurrent look-ups of one name
    share a query, and a zero TTL (a rebinding name) is never cached.
    """

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self.servers: list[tuple[str, int]] = []
        if policy.resolver is not None:
            self.servers = [policy.resolver]
        else:
            self.servers = system_nameservers()
        self.stub = StubResolver(
            self.servers,
            timeout=policy.dns_timeout,
            max_ttl=policy.dns_cache_max_ttl,
            max_entries=policy.dns_cache_entries,
        )

    async def addresses(self, host: str) -> list[str]:
        """All addresses of ``host`` (A, then AAAA when there is no A), unfiltered."""
        answer = await self.stub.addresses(host)
        if answer.ok:
            return list(answer.addresses)
        outcome = _DNS_OUTCOMES.get(answer.outcome, Outcome.DNS_ERROR)
        if outcome == Outcome.NO_ADDRESS:
            raise FetchFailure(outcome, f"{host}: no A or AAAA record")
        if outcome == Outcome.NXDOMAIN:
            raise FetchFailure(outcome, f"{host}: NXDOMAIN")
        if outcome == Outcome.TIMEOUT:
            raise FetchFailure(outcome, f"{host}: DNS timed out")
        if answer.outcome == "invalid":
            # URLs are normalised to punycode before they get here.
            raise FetchFailure(Outcome.ERROR, f"{host[:100]!r} is not a DNS name: {answer.error}")
        # SERVFAIL is often the recursive resolver timing out on the name's
        # servers; REFUSED is our resolver refusing us: neither says the name is gone.
        raise FetchFailure(outcome, f"{host}: {answer.error or answer.outcome}")

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        ips = await self.addresses(host)
        allowed = [ip for ip in ips if self.policy.refusal(ip) is None]
        if not allowed:
            _attempt_blocked(*ips)
            reason = self.policy.refusal(ips[0]) or "refused"
            raise FetchFailure(
                Outcome.BLOCKED, f"{host} resolves only to refused addresses: {reason}"
            )
        return [
            {
                "hostname": host,
                "host": ip,
                "port": port,
                "family": socket.AF_INET6 if ":" in ip else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for ip in allowed
        ]

    async def close(self) -> None:
        self.stub.close()


# The stub's outcomes as the fetcher's.
_DNS_OUTCOMES = {
    "nxdomain": Outcome.NXDOMAIN,
    "no_address": Outcome.NO_ADDRESS,
    "timeout": Outcome.TIMEOUT,
    "servfail": Outcome.DNS_ERROR,
    "cname_loop": Outcome.DNS_ERROR,
    "error": Outcome.DNS_ERROR,
}


def system_nameservers() -> list[tuple[str, int]]:
    """The servers of ``/etc/resolv.conf`` (read once per resolver)."""
    try:
        system = dns.resolver.Resolver()
    except dns.resolver.NoResolverConfiguration:
        return []
    return [(str(ns), system.port) for ns in system.nameservers]


# --- bounded decompression -----------------------------------------------------------


class _Decoder:
    """Content-Encoding gzip/deflate, decompressed ``budget`` bytes at a time."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        if encoding in ("gzip", "x-gzip"):
            self._wbits = 16 + zlib.MAX_WBITS
        elif encoding == "deflate":
            self._wbits = zlib.MAX_WBITS
        else:
            raise ValueError(f"unsupported Content-Encoding {encoding!r}")
        self._d = zlib.decompressobj(self._wbits)
        self._first = True

    def feed(self, data: bytes, budget: int) -> tuple[bytes, bool]:
        """Decompress ``data``; return at most ``budget`` bytes and whether input was left over."""
        out = bytearray()
        pending = data
        while pending and budget - len(out) > 0:
            try:
                chunk = self._d.decompress(pending, budget - len(out))
            except zlib.error:
                if self._first and self.encoding == "deflate":
                    # Servers send raw deflate without the zlib header as often as with it.
                    self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._first = False
                    continue
                raise
            self._first = False
            out += chunk
            pending = self._d.unconsumed_tail
            if self._d.eof:
                pending = self._d.unused_data
                if pending:
                    # Concatenated gzip members: each is decompressed in turn.
                    self._d = zlib.decompressobj(self._wbits)
        return bytes(out), bool(pending)


# --- the header cap ------------------------------------------------------------------


class _CappedResponseHandler(ResponseHandler):
    """aiohttp's protocol, with a cap on the bytes before the end of the headers.

    aiohttp limits each header line and the number of lines, but not their
    sum: the per-line and per-count limits a browser would accept (256 KiB,
    1000 lines) multiply to 256 MiB.  Counting the bytes until the blank line
    that ends the headers bounds a response's headers at ``cap`` bytes (plus
    one read), as Chromium does.  Interim responses (``100 Continue``, ``103
    Early Hints``), which aiohttp reads past, count towards the same cap.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, cap: int) -> None:
        super().__init__(loop=loop)
        self._cap = cap
        self._head_bytes = 0
        self._head_done = False
        # The start of the current head (its status line) and the end of the
        # last read (a blank line may straddle two reads).
        self._status = b""
        self._tail = b""

    def data_received(self, data: bytes) -> None:
        if not self._head_done and data:
            self._count_head(data)
            if self._head_bytes > self._cap:
                if self.transport is not None:
                    self.transport.close()
                self.set_exception(
                    FetchFailure(Outcome.ERROR, f"response headers larger than {self._cap} bytes")
                )
                return
        super().data_received(data)

    def _count_head(self, data: bytes) -> None:
        rest = data
        while rest:
            if len(self._status) < 12:
                self._status += rest[: 12 - len(self._status)]
            window = self._tail + rest
            ends = [i for i in (window.find(b"\r\n\r\n"), window.find(b"\n\n")) if i >= 0]
            if not ends:
                self._head_bytes += len(rest)
                self._tail = window[-3:]
                return
            end = min(ends)
            end += 4 if window.startswith(b"\r\n\r\n", end) else 2
            used = max(end - len(self._tail), 0)
            self._head_bytes += used
            if not _INTERIM_STATUS.match(self._status):
                self._head_done = True
                return
            # 100 Continue, 103 Early Hints: the real head follows.
            rest = rest[used:]
            self._status = self._tail = b""


_INTERIM_STATUS = re.compile(rb"HTTP/\d(?:\.\d)? +1\d\d")


# --- the fetcher -------------------------------------------------------------------


class Fetcher:
    """One aiohttp session with our resolver, socket guard and concurrency limits.

    Create it inside the event loop that will use it; ``async with`` or
    :meth:`close` releases it.
    """

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self.resolver = SafeResolver(policy)
        self._ssl = ssl.create_default_context()
        if policy.ca_bundle:
            # In addition to the system CAs, not instead of them.
            self._ssl.load_verify_locations(cafile=policy.ca_bundle)
        connector = aiohttp.TCPConnector(
            resolver=self.resolver,
            use_dns_cache=False,
            ssl=self._ssl,
            limit=0,
            limit_per_host=0,
            # Every check looks at the site afresh, as a new visitor would: a
            # kept-alive connection would hide a takedown by DNS or a closed port.
            force_close=True,
            socket_factory=guarded_socket_factory(policy),
            happy_eyeballs_delay=None,
        )
        # The only hook for the protocol aiohttp builds per connection (a private
        # attribute; test_fetch's header tests fail if a new aiohttp moves it).
        connector._factory = functools.partial(  # type: ignore[assignment]
            _CappedResponseHandler, loop=asyncio.get_running_loop(), cap=policy.max_header_bytes
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            max_line_size=policy.max_header_bytes,
            max_field_size=policy.max_header_bytes,
            max_headers=policy.max_headers,
            trust_env=False,
            raise_for_status=False,
        )
        self._global = asyncio.Semaphore(policy.concurrency)
        self._hosts: dict[str, tuple[asyncio.Semaphore, int]] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.session.close()

    @asynccontextmanager
    async def _slot(self, host: str) -> Any:
        sem, users = self._hosts.get(host) or (asyncio.Semaphore(self.policy.per_host), 0)
        self._hosts[host] = (sem, users + 1)
        try:
            async with sem, self._global:
                yield
        finally:
            sem, users = self._hosts[host]
            if users <= 1:
                del self._hosts[host]
            else:
                self._hosts[host] = (sem, users - 1)

    async def fetch(
        self,
        url: str,
        *,
        agent: str = "desktop",
        max_body: int | None = None,
        hash_limit: int | None = None,
        sink: Callable[[bytes], None] | None = None,
        extra_headers: dict[str, str] | None = None,
        verify: bool = True,
    ) -> FetchResult:
        """GET ``url``, following up to ``max_redirects`` redirects; never raises for the URL.

        ``max_body`` bytes of the decoded body are kept in memory; up to
        ``hash_limit`` bytes are read, hashed and passed to ``sink`` (malware
        downloads are hashed whole but not kept).  ``verify=False`` accepts
        any TLS certificate (to see what a victim who clicks through the
        browser's warning sees); the address rules apply all the same.
        """
        result = FetchResult(url=url, agent=agent)
        max_body = self.policy.max_body if max_body is None else max_body
        hash_limit = max(max_body, hash_limit or max_body)
        try:
            host = URL(url).raw_host or ""
        except (ValueError, TypeError):
            host = ""
        # Waiting for a free slot is our queue, not the site's slowness: the
        # timeout starts once the slot is ours.
        async with self._slot(host):
            return await self._fetch_now(
                url, result, agent, max_body, hash_limit, sink, extra_headers, verify
            )

    async def _fetch_now(
        self,
        url: str,
        result: FetchResult,
        agent: str,
        max_body: int,
        hash_limit: int,
        sink: Callable[[bytes], None] | None,
        extra_headers: dict[str, str] | None,
        verify: bool,
    ) -> FetchResult:
        attempt = _Attempt()
        token = _attempt.set(attempt)
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.policy.total_timeout):
                await self._follow(
                    url, result, agent, max_body, hash_limit, sink, extra_headers, verify
                )
        except FetchFailure as exc:
            result.error, result.detail = exc.kind, str(exc)
        except TimeoutError:
            result.error, result.detail = Outcome.TIMEOUT, "timed out"
        except Exception as exc:  # any bug or odd reply is a result, never a crashed worker
            result.error, result.detail = _classify(exc, attempt)
            if result.error == Outcome.TLS_ERROR:
                result.cert_error = _certificate_error(exc)
        finally:
            _attempt.reset(token)
            result.elapsed = time.monotonic() - started
        if attempt.blocked and result.error in (Outcome.REFUSED, Outcome.ERROR):
            # Every address was refused but aiohttp reported it as a plain connect error.
            result.error = Outcome.BLOCKED
            result.detail = f"refused to connect to {', '.join(sorted(set(attempt.blocked)))}"
        return result

    def _wire_url(self, url: URL) -> URL:
        """The URL actually connected to: the sandbox maps the default ports elsewhere.

        User information (``http://bank.example@evil.example/``, a phishing
        classic) is dropped: we never send credentials anywhere.
        """
        if url.raw_user is not None or url.raw_password is not None:
            url = url.with_user(None)
        if url.explicit_port is None:
            wanted = self.policy.https_port if url.scheme == "https" else self.policy.http_port
            if wanted != url.port:
                return url.with_port(wanted)
        return url

    async def _follow(
        self,
        url: str,
        result: FetchResult,
        agent: str,
        max_body: int,
        hash_limit: int,
        sink: Callable[[bytes], None] | None,
        extra_headers: dict[str, str] | None,
        verify: bool,
    ) -> None:
        jar: aiohttp.CookieJar | None = None
        seen: set[str] = set()
        current = _parse(url)
        for _hop in range(self.policy.max_redirects + 1):
            self._check_target(current)
            seen.add(str(current))
            result.final_url = str(current)
            headers = {
                "User-Agent": USER_AGENTS.get(agent, DESKTOP_UA),
                "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                "Accept-Language": self.policy.accept_language,
                "Accept-Encoding": "gzip, deflate",
                "Host": _host_header(current),
                **(extra_headers or {}),
            }
            if jar is not None:
                cookies = jar.filter_cookies(current)
                if cookies:
                    headers["Cookie"] = "; ".join(f"{k}={m.value}" for k, m in cookies.items())
            timeout = aiohttp.ClientTimeout(
                total=None,
                sock_connect=self.policy.connect_timeout,
                sock_read=self.policy.read_timeout,
            )
            async with self.session.get(
                self._wire_url(current),
                headers=headers,
                allow_redirects=False,
                timeout=timeout,
                # True: the connector's context (system CAs + CA_BUNDLE); False: none.
                ssl=verify,
            ) as resp:
                result.ip = _peer_ip(resp)
                result.status = resp.status
                result.reason = resp.reason or ""
                result.headers = [
                    (k, v[:2048]) for k, v in list(resp.headers.items())[:KEPT_HEADERS]
                ]
                result.content_type = resp.headers.get("Content-Type", "")[:200]
                if resp.cookies:
                    # A jar for this redirect chain only: no cookies across sites.
                    jar = jar or aiohttp.CookieJar(unsafe=True, quote_cookie=False)
                    jar.update_cookies(resp.cookies, current)
                location = resp.headers.get("Location")
                if resp.status in REDIRECT_STATUSES and location:
                    resp.close()
                    target = _join(current, location)
                    result.redirects.append((resp.status, str(target)))
                    if str(target) in seen:
                        raise FetchFailure(Outcome.REDIRECT_LOOP, f"redirect loop at {target}")
                    current = target
                    continue
                await self._read_body(resp, result, max_body, hash_limit, sink)
                return
        raise FetchFailure(
            Outcome.REDIRECT_LOOP, f"more than {self.policy.max_redirects} redirects"
        )

    def _check_target(self, url: URL) -> None:
        if url.scheme not in ("http", "https"):
            raise FetchFailure(Outcome.BLOCKED, f"scheme {url.scheme!r} is not fetched")
        host = url.raw_host
        if not host:
            raise FetchFailure(Outcome.ERROR, "URL has no host")
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return
        reason = self.policy.refusal(str(literal))
        if reason is not None:
            _attempt_blocked(str(literal))
            raise FetchFailure(Outcome.BLOCKED, f"refused to connect: {reason}")

    async def _read_body(
        self,
        resp: aiohttp.ClientResponse,
        result: FetchResult,
        max_body: int,
        hash_limit: int,
        sink: Callable[[bytes], None] | None,
    ) -> None:
        encoding = resp.headers.get("Content-Encoding", "").strip().lower()
        decoder: _Decoder | None = None
        if encoding not in ("", "identity"):
            try:
                decoder = _Decoder(encoding)
            except ValueError:
                # Unknown or stacked encodings: keep the bytes as they came.
                result.detail = f"body kept encoded ({encoding[:40]})"
        digest = hashlib.sha256()
        kept = bytearray()
        total = 0
        wire = 0
        stopped = False
        async for chunk in resp.content.iter_any():
            wire += len(chunk)
            if decoder is not None:
                try:
                    data, leftover = decoder.feed(chunk, hash_limit - total)
                except zlib.error as exc:
                    result.detail = f"corrupt {encoding} body: {exc}"
                    stopped = True
                    break
            else:
                data, leftover = chunk[: hash_limit - total], len(chunk) > hash_limit - total
            total += len(data)
            digest.update(data)
            if len(kept) < max_body:
                kept += data[: max_body - len(kept)]
            if sink is not None and data:
                sink(data)
            if leftover or total >= hash_limit or wire > hash_limit:
                stopped = True
                break
        if stopped:
            # Drop the connection rather than drain an endless or hostile body.
            resp.close()
            result.truncated = True
        result.body = bytes(kept)
        result.size = total
        result.body_sha256 = digest.hexdigest()


def _attempt_blocked(*ips: str) -> None:
    attempt = _attempt.get()
    if attempt is not None:
        attempt.blocked.extend(ips)


def _parse(url: str) -> URL:
    try:
        parsed = URL(url)
    except (ValueError, TypeError) as exc:
        raise FetchFailure(Outcome.ERROR, f"bad URL: {exc}") from None
    if parsed.scheme and parsed.scheme not in ("http", "https"):
        raise FetchFailure(Outcome.BLOCKED, f"scheme {parsed.scheme!r} is not fetched")
    if not parsed.is_absolute():
        raise FetchFailure(Outcome.ERROR, "URL is not absolute")
    return parsed


def _join(base: URL, location: str) -> URL:
    try:
        target = base.join(URL(location.strip()))
    except (ValueError, TypeError) as exc:
        raise FetchFailure(
            Outcome.ERROR, f"bad redirect target {location[:200]!r}: {exc}"
        ) from None
    return target.with_fragment(None)


def _host_header(url: URL) -> str:
    host = url.raw_host or ""
    if ":" in host:
        host = f"[{host}]"
    if url.explicit_port is not None:
        return f"{host}:{url.explicit_port}"
    return host


def _peer_ip(resp: aiohttp.ClientResponse) -> str | None:
    """The address the response came from.

    aiohttp releases the connection as soon as a short body is fully buffered,
    so the protocol (kept by the response) is asked when the connection is gone.
    """
    transports = []
    if resp.connection is not None:
        transports.append(resp.connection.transport)
    protocol = getattr(resp, "_protocol", None)
    transports.append(getattr(protocol, "transport", None))
    for transport in transports:
        if transport is not None:
            peer = transport.get_extra_info("peername")
            if peer:
                return str(peer[0])
    attempt = _attempt.get()
    return attempt.connected if attempt is not None else None


def _classify(exc: BaseException, attempt: _Attempt) -> tuple[str, str]:
    """Map an exception from aiohttp or the OS to an Outcome and a short detail."""
    detail = f"{type(exc).__name__}: {exc}"[:300]
    for err in _chain(exc):
        if isinstance(err, FetchFailure):
            return err.kind, str(err)[:300]
    for err in _chain(exc):
        if isinstance(err, ssl.SSLError | ssl.CertificateError | aiohttp.ClientSSLError):
            return Outcome.TLS_ERROR, detail
    for err in _chain(exc):
        if isinstance(err, TimeoutError):
            return Outcome.TIMEOUT, detail
        # Only a refused connection proves that nothing listens any more; a
        # reset mid-answer is what kits do to visitors they dislike.
        if isinstance(err, ConnectionRefusedError):
            return Outcome.REFUSED, detail
        if isinstance(err, OSError) and err.errno in UNREACHABLE_ERRNOS:
            return Outcome.UNREACHABLE, detail
    if attempt.blocked:
        return Outcome.BLOCKED, detail
    if isinstance(exc, aiohttp.ClientError | OSError | ValueError | UnicodeError):
        return Outcome.ERROR, detail
    return Outcome.INTERNAL, detail


# No route: the network between us and the site, not proof that it is gone.
UNREACHABLE_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN})


def _certificate_error(exc: BaseException) -> str:
    """Why the certificate was refused (untrusted, expired, wrong name), or "".

    Those a victim can click through; a failed handshake (no certificate at
    all) they cannot, and gets "".
    """
    found = ""
    for err in _chain(exc):
        # aiohttp's own certificate error is an ssl.CertificateError too: prefer
        # the ssl module's, which says what is wrong with the certificate.
        why = getattr(err, "verify_message", None)
        if why:
            return f"certificate verify failed: {why}"[:300]
        if isinstance(err, ssl.CertificateError) and not found:
            found = f"certificate refused: {err}"[:300]
    return found


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        err = stack.pop()
        if id(err) in seen:
            continue
        seen.add(id(err))
        yield err
        os_error = getattr(err, "os_error", None)
        if isinstance(os_error, BaseException):
            stack.append(os_error)
        if err.__cause__ is not None:
            stack.append(err.__cause__)
        if err.__context__ is not None:
            stack.append(err.__context__)
        if isinstance(err, BaseExceptionGroup):
            stack.extend(err.exceptions)
