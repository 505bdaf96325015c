"""Talking to registries politely: RDAP over HTTP (aiohttp) and WHOIS on port 43.

Manners, per registry (``arin``, ``ripe``, ``apnic``, ``lacnic``, ``afrinic``,
``jpnic``, recognised from the server's name or URL; other servers by their
host): a sliding-window rate limit from ``settings.REGISTRY_RATE_LIMITS``
(defaults: LACNIC 10 a minute, RIPE 1,000 a day), a cap on concurrent
connections, and ``429 Retry-After`` honoured: the whole registry pauses, and
the query waits if the pause is shorter than ``settings.REGISTRY_MAX_WAIT``,
otherwise it fails as :class:`RateLimited` (the caller falls back to WHOIS and
retries later).  The limits live in this process; see docs/locate.md.

Safety: registry answers name other servers (RDAP links, WHOIS referrals).
Every host is resolved by the configured resolver (``settings.DNS_RESOLVER``,
never the system's) and refused unless public (loopback only with
``ALLOW_LOOPBACK_TARGETS``); redirects are followed by hand so each hop is
checked; bodies are capped.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import ipaddress
import logging
import re
import socket
import threading
import time
from collections import Counter, deque
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from django.conf import settings

from takedown.lib.ids import ascii_digits
from takedown.locate.addresses import address_refusal
from takedown.locate.limits import Limit
from takedown.locate.rdap import RdapError, load_rdap
from takedown.locate.records import REGISTRY_HOSTS, registry_of
from takedown.locate.resolver import make_resolver, resolve_host
from takedown.locate.whois import decode_whois

log = logging.getLogger(__name__)

MAX_RDAP_BYTES = 2 * 1024 * 1024
MAX_WHOIS_BYTES = 1024 * 1024
MAX_REDIRECTS = 3


class RegistryUnavailable(Exception):
    """The registry gave no usable answer; the message says why."""


class NotFound(RegistryUnavailable):
    pass


class RateLimited(RegistryUnavailable):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Refused(RegistryUnavailable):
    """The server's address is not one we may contact."""


class RateLimiter:
    """Sliding-window counters and 429 pauses, per key, shared by every thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}
        self._paused_until: dict[str, float] = {}

    def wait_needed(self, key: str, limit: Limit | None) -> float:
        """Seconds until a query may go; when 0 the query is counted as sent."""
        now = time.monotonic()
        with self._lock:
            paused = self._paused_until.get(key, 0.0) - now
            if paused > 0:
                return paused
            if limit is None:
                return 0.0
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - limit.period:
                hits.popleft()
            if len(hits) >= limit.count:
                return max(0.01, hits[0] + limit.period - now)
            hits.append(now)
            return 0.0

    def pause(self, key: str, seconds: float) -> None:
        with self._lock:
            until = time.monotonic() + seconds
            self._paused_until[key] = max(self._paused_until.get(key, 0.0), until)

    async def acquire(self, key: str, limit: Limit | None, max_wait: float) -> None:
        while True:
            wait = self.wait_needed(key, limit)
            if wait <= 0:
                return
            if wait > max_wait:
                raise RateLimited(f"{key}: rate limit, next query allowed in {wait:.0f}s", wait)
            await asyncio.sleep(wait)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
            self._paused_until.clear()


LIMITER = RateLimiter()


def limit_for(key: str) -> Limit | None:
    limits: dict[str, Limit] = settings.REGISTRY_RATE_LIMITS
    return limits.get(key)


def retry_after_seconds(value: str | None, default: float = 60.0) -> float:
    """``Retry-After`` as seconds: a number or an HTTP date (RFC 9110)."""
    if not value:
        return default
    value = value.strip()
    if ascii_digits(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


async def server_addresses(host: str) -> list[str]:
    """The addresses of a registry server's name, from the configured resolver.

    Registry answers name the servers to ask next (WHOIS referrals, RDAP links
    and redirects); their names are resolved like reported host names, by
    ``settings.DNS_RESOLVER`` through ``resolver.py``, never by the system's
    resolver (which the sandbox and a split-horizon deployment do not control).
    An IP literal is its own address.
    """
    literal = host.strip("[]")
    try:
        ipaddress.ip_address(literal)
    except ValueError:
        pass
    else:
        return [literal]
    resolver = make_resolver()
    try:
        result = await resolve_host(resolver, host)
    finally:
        resolver.close()
    if not result.ok:
        detail = f" ({result.error})" if result.error else ""
        raise RegistryUnavailable(f"{host}: DNS {result.outcome}{detail}")
    return result.addresses


class PolicyResolver(AbstractResolver):
    """aiohttp's resolver: our resolver's answers, only addresses we may connect to."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            addrs = await server_addresses(host)
        except RegistryUnavailable as exc:
            raise OSError(str(exc)) from None
        allowed: list[ResolveResult] = []
        for addr in addrs:
            fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
            if family not in (socket.AF_UNSPEC, fam) or address_refusal(addr) is not None:
                continue
            allowed.append(
                {
                    "hostname": host,
                    "host": addr,
                    "port": port,
                    "family": fam,
                    "proto": 0,
                    "flags": socket.AI_NUMERICHOST,
                }
            )
        if not allowed:
            raise OSError(f"{host} has no public address")
        return allowed

    async def close(self) -> None:
        pass


class Counters:
    """Queries sent, by kind (``rdap-ip``, ``whois-nir``...), for results and the benchmark."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, kind: str) -> None:
        self.counts[kind] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _check_host(host: str) -> None:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return  # a name: the resolver filters its addresses
    refusal = address_refusal(host.strip("[]"))
    if refusal:
        raise Refused(f"{host}: {refusal}")


class RdapClient:
    def __init__(self, session: aiohttp.ClientSession, counters: Counters) -> None:
        self.session = session
        self.counters = counters
        self.max_wait = float(settings.REGISTRY_MAX_WAIT)
        self.timeout = float(settings.REGISTRY_TIMEOUT)
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._checked: set[str] = set()

    async def _check_name(self, host: str, url: str) -> None:
        """A clear error for a name with no public address (the connector's
        resolver filters again when connecting, so a rebinding gains nothing)."""
        if host in self._checked:
            return
        try:
            ipaddress.ip_address(host.strip("[]"))
            return
        except ValueError:
            pass
        try:
            addrs = await asyncio.wait_for(server_addresses(host), self.timeout)
        except RegistryUnavailable as exc:
            raise RegistryUnavailable(f"{url}: {exc}") from None
        except TimeoutError:
            raise RegistryUnavailable(f"{url}: {host}: DNS timed out") from None
        if not any(address_refusal(a) is None for a in addrs):
            raise Refused(f"{url}: {host} has no public address")
        self._checked.add(host)

    @staticmethod
    def new_session() -> aiohttp.ClientSession:
        timeout = aiohttp.ClientTimeout(
            total=float(settings.REGISTRY_TIMEOUT), sock_connect=float(settings.REGISTRY_TIMEOUT)
        )
        connector = aiohttp.TCPConnector(resolver=PolicyResolver(), limit=64, ttl_dns_cache=300)
        return aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            headers={
                "Accept": "application/rdap+json, application/json;q=0.9",
                "User-Agent": f"Takedown/0.1 (+{settings.TEAM_EMAIL})",
            },
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def get_json(self, url: str, *, kind: str) -> dict[str, Any]:
        """GET an RDAP document; raises NotFound, RateLimited, RegistryUnavailable, RdapError."""
        attempts = 0
        for _hop in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise Refused(f"{url}: only http(s) URLs are fetched")
            _check_host(parts.hostname)
            await self._check_name(parts.hostname, url)
            key = registry_of(url) or parts.netloc
            sem = self._sems.setdefault(
                f"{key}@{parts.netloc}", asyncio.Semaphore(int(settings.REGISTRY_CONCURRENCY))
            )
            while True:
                await LIMITER.acquire(key, limit_for(key), self.max_wait)
                async with sem:
                    self.counters.add(kind)
                    try:
                        async with self.session.get(url, allow_redirects=False) as resp:
                            status = resp.status
                            if status in (301, 302, 303, 307, 308):
                                location = resp.headers.get("Location", "")
                                body = b""
                            else:
                                location = ""
                                body = await _read_capped(resp, MAX_RDAP_BYTES)
                            retry_after = resp.headers.get("Retry-After")
                    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                        raise RegistryUnavailable(f"{url}: {_describe(exc)}") from None
                if status == 429:
                    wait = retry_after_seconds(retry_after)
                    LIMITER.pause(key, wait)
                    attempts += 1
                    if wait > self.max_wait or attempts > 2:
                        raise RateLimited(f"{url}: HTTP 429, retry after {wait:.0f}s", wait)
                    continue
                break
            if location:
                url = urljoin(url, location)
                continue
            if status == 404:
                raise NotFound(f"{url}: HTTP 404")
            if status != 200:
                raise RegistryUnavailable(f"{url}: HTTP {status}")
            try:
                return load_rdap(body)
            except RdapError as exc:
                raise RdapError(f"{url}: {exc}") from None
        raise RegistryUnavailable(f"{url}: more than {MAX_REDIRECTS} redirects")


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    chunks = []
    size = 0
    async for chunk in resp.content.iter_chunked(65536):
        size += len(chunk)
        if size > cap:
            raise RegistryUnavailable(f"answer larger than {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


def split_server(server: str) -> tuple[str, int]:
    """``whois.apnic.net`` -> (host, 43); ``127.0.0.1:4343``; ``[::1]:43``."""
    server = server.strip()
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?", server)
    if m:
        return m.group(1), int(m.group(2) or 43)
    host, sep, port = server.rpartition(":")
    if sep and ascii_digits(port) and ":" not in host:
        return host, int(port)
    return server, 43


class WhoisClient:
    """Port-43 queries with referrals; one connection per query, as the protocol goes."""

    def __init__(self, counters: Counters) -> None:
        self.counters = counters
        self.timeout = float(settings.REGISTRY_TIMEOUT)
        self.max_wait = float(settings.REGISTRY_MAX_WAIT)
        self._sems: dict[str, asyncio.Semaphore] = {}

    @staticmethod
    def entry_server() -> str:
        server = settings.WHOIS_SERVER
        if server:
            host, port = server
            return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return "whois.iana.org"

    @staticmethod
    def query_for(server: str, query: str) -> str:
        """The query line, with the flags each real server wants."""
        host = split_server(server)[0].lower()
        if host == "whois.arin.net" and re.fullmatch(r"[0-9a-fA-F:.]+", query):
            return f"n + {query}"
        if host == "whois.ripe.net":
            # -r: no contact objects, which count against RIPE's daily limit;
            # the abuse contact is still given in the "% Abuse contact" line.
            return f"-r {query}"
        if host == "whois.verisign-grs.com" or host.endswith(".verisign-grs.com"):
            return f"={query}"
        return query

    async def query(self, server: str, query: str, *, kind: str) -> str:
        host, port = split_server(server)
        key = REGISTRY_HOSTS.get(host.lower()) or registry_of(host) or f"{host}:{port}"
        if "\n" in query or "\r" in query or len(query) > 256:
            raise RegistryUnavailable("refusing a malformed WHOIS query")
        try:
            found = await asyncio.wait_for(server_addresses(host), self.timeout)
        except RegistryUnavailable as exc:
            raise RegistryUnavailable(f"whois {exc}") from None
        except TimeoutError:
            raise RegistryUnavailable(f"whois {host}: DNS timed out") from None
        addrs = [a for a in found if address_refusal(a) is None]
        if not addrs:
            raise Refused(f"whois {host}: no public address")
        await LIMITER.acquire(key, limit_for(key), self.max_wait)
        sem = self._sems.setdefault(key, asyncio.Semaphore(int(settings.REGISTRY_CONCURRENCY)))
        async with sem:
            self.counters.add(kind)
            try:
                raw = await asyncio.wait_for(
                    self._exchange(addrs[0], port, self.query_for(server, query)), self.timeout
                )
            except TimeoutError:
                raise RegistryUnavailable(f"whois {server}: timed out") from None
            except OSError as exc:
                raise RegistryUnavailable(f"whois {server}: {_describe(exc)}") from None
        if not raw.strip():
            raise RegistryUnavailable(f"whois {server}: empty answer")
        return decode_whois(raw).replace("\r\n", "\n")

    @staticmethod
    async def _exchange(addr: str, port: int, line: str) -> bytes:
        reader, writer = await asyncio.open_connection(addr, port, limit=MAX_WHOIS_BYTES)
        try:
            writer.write(line.encode("utf-8", "replace") + b"\r\n")
            await writer.drain()
            chunks = []
            size = 0
            while size < MAX_WHOIS_BYTES:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            return b"".join(chunks)[:MAX_WHOIS_BYTES]
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
