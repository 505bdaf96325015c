"""The registry clients' manners and defences, against real servers on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from takedown.locate.clients import (
    LIMITER,
    Counters,
    NotFound,
    RateLimited,
    RateLimiter,
    RdapClient,
    Refused,
    RegistryUnavailable,
    WhoisClient,
    retry_after_seconds,
    split_server,
)
from takedown.locate.limits import Limit, parse_limit
from takedown.locate.rdap import RdapError
from takedown.locate.tests.servers import LoopThread, RegistryServer, rdap_json

pytestmark = pytest.mark.concurrency

NETWORK = {"objectClassName": "ip network", "handle": "N", "name": "EXAMPLE"}


@pytest.fixture
def registry(loop_thread: LoopThread) -> Iterator[RegistryServer]:
    server = RegistryServer(loop_thread)
    state = {"429": 0}

    async def ok(request: web.Request) -> web.Response:
        return rdap_json(NETWORK)

    async def limited(request: web.Request) -> web.Response:
        state["429"] += 1
        if state["429"] == 1:
            return rdap_json({"errorCode": 429}, status=429, **{"Retry-After": "1"})
        return rdap_json(NETWORK)

    async def long_limit(request: web.Request) -> web.Response:
        return rdap_json({"errorCode": 429}, status=429, **{"Retry-After": "3600"})

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500, text="Internal Server Error")

    async def missing(request: web.Request) -> web.Response:
        return rdap_json({"errorCode": 404, "title": "Not Found"}, status=404)

    async def garbage(request: web.Request) -> web.Response:
        return web.Response(text="<html>not json", content_type="application/rdap+json")

    async def huge(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        for _ in range(300):
            await resp.write(b"x" * 10_000)
        return resp

    async def to_private(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://10.0.0.1/ip/1.2.3.4")

    async def to_ok(request: web.Request) -> web.Response:
        raise web.HTTPFound("/ok/ip/1")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return rdap_json(NETWORK)

    for path, handler in [
        ("/ok/ip/{q}", ok),
        ("/limited/ip/{q}", limited),
        ("/long/ip/{q}", long_limit),
        ("/broken/ip/{q}", broken),
        ("/missing/ip/{q}", missing),
        ("/garbage/ip/{q}", garbage),
        ("/huge/ip/{q}", huge),
        ("/private/ip/{q}", to_private),
        ("/redirect/ip/{q}", to_ok),
        ("/slow/ip/{q}", slow),
    ]:
        server.route(path, handler)
    server.start()
    yield server
    server.stop()


def fetch(url: str, counters: Counters | None = None) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        async with RdapClient.new_session() as session:
            return await RdapClient(session, counters or Counters()).get_json(url, kind="rdap-ip")

    return asyncio.run(go())


def test_it_fetches_an_rdap_document(registry: RegistryServer) -> None:
    counters = Counters()
    assert fetch(registry.base + "ok/ip/1", counters)["name"] == "EXAMPLE"
    assert counters.counts == {"rdap-ip": 1}


def test_it_waits_as_told_by_retry_after(registry: RegistryServer) -> None:
    started = time.monotonic()
    assert fetch(registry.base + "limited/ip/1")["name"] == "EXAMPLE"
    assert time.monotonic() - started >= 0.9
    assert registry.hits["/limited/ip/1"] == 2


def test_it_gives_up_when_retry_after_is_too_long(registry: RegistryServer) -> None:
    with pytest.raises(RateLimited) as info:
        fetch(registry.base + "long/ip/1")
    assert info.value.retry_after == 3600
    # The registry stays paused: the next query does not even go out.
    with pytest.raises(RateLimited):
        fetch(registry.base + "long/ip/2")
    assert registry.hits["/long/ip/2"] == 0


@pytest.mark.parametrize(
    ("path", "error", "match"),
    [
        ("broken/ip/1", RegistryUnavailable, "HTTP 500"),
        ("missing/ip/1", NotFound, "404"),
        ("garbage/ip/1", RdapError, "not JSON"),
        ("huge/ip/1", RegistryUnavailable, "larger than"),
        ("private/ip/1", Refused, "Private-Use"),
    ],
)
def test_it_fails_clearly(registry: RegistryServer, path: str, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        fetch(registry.base + path)


def test_it_follows_a_redirect_it_may_follow(registry: RegistryServer) -> None:
    assert fetch(registry.base + "redirect/ip/1")["name"] == "EXAMPLE"


def test_it_times_out(registry: RegistryServer, settings: Any) -> None:
    settings.REGISTRY_TIMEOUT = 0.5
    with pytest.raises(RegistryUnavailable, match="timed out"):
        fetch(registry.base + "slow/ip/1")


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/ip/1",
        "http://10.1.2.3/ip/1",
        "http://[::ffff:10.0.0.1]/x",
    ],
)
def test_it_refuses_urls_it_must_not_fetch(url: str) -> None:
    with pytest.raises(Refused):
        fetch(url)


def test_it_refuses_loopback_outside_the_sandbox(registry: RegistryServer, settings: Any) -> None:
    settings.ALLOW_LOOPBACK_TARGETS = False
    with pytest.raises(Refused, match="Loopback"):
        fetch(registry.base + "ok/ip/1")


def test_the_rate_limiter_keeps_a_sliding_window() -> None:
    limiter = RateLimiter()
    limit = Limit(2, 0.3)
    assert limiter.wait_needed("x", limit) == 0
    assert limiter.wait_needed("x", limit) == 0
    assert 0 < limiter.wait_needed("x", limit) <= 0.3
    assert limiter.wait_needed("y", limit) == 0  # per registry
    time.sleep(0.31)
    assert limiter.wait_needed("x", limit) == 0


def test_the_rate_limiter_makes_queries_wait_their_turn() -> None:
    limiter = RateLimiter()

    async def go() -> float:
        started = time.monotonic()
        for _ in range(3):
            await limiter.acquire("lacnic", Limit(2, 0.4), max_wait=5)
        return time.monotonic() - started

    assert asyncio.run(go()) >= 0.35


def test_it_limits_lacnic_by_default(settings: Any) -> None:
    assert settings.REGISTRY_RATE_LIMITS["lacnic"] == Limit(10, 60.0)
    assert settings.REGISTRY_RATE_LIMITS["ripe"] == Limit(1000, 86400.0)


@pytest.mark.parametrize("bad", ["lacnic", "lacnic=10", "lacnic=0/60", "=1/1", "x=1/0"])
def test_it_rejects_a_malformed_limit(bad: str) -> None:
    with pytest.raises(ValueError, match="REGISTRY=COUNT/SECONDS"):
        parse_limit(bad)


def test_it_reads_retry_after_in_both_forms() -> None:
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds(None) == 60
    assert retry_after_seconds("garbage") == 60
    # "²".isdigit() is true and float("²") raises: a header is a stranger's text.
    assert retry_after_seconds("²") == 60
    assert 0 <= retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") <= 1


# --- WHOIS -----------------------------------------------------------------------


def whois(server: str, query: str) -> str:
    return asyncio.run(WhoisClient(Counters()).query(server, query, kind="whois-ip"))


def test_it_asks_a_whois_server(registry: RegistryServer) -> None:
    async def answer(query: str) -> bytes:
        return f"inetnum: 192.0.2.0 - 192.0.2.255\nnetname: {query}\n".encode()

    port = registry.whois(answer)
    assert "netname: 192.0.2.1" in whois(f"127.0.0.1:{port}", "192.0.2.1")


def test_it_gives_up_on_a_whois_server_that_hangs(registry: RegistryServer, settings: Any) -> None:
    async def hang(query: str) -> None:
        return None

    port = registry.whois(hang)
    settings.REGISTRY_TIMEOUT = 0.5
    started = time.monotonic()
    with pytest.raises(RegistryUnavailable, match="timed out"):
        whois(f"127.0.0.1:{port}", "192.0.2.1")
    assert time.monotonic() - started < 3


def test_it_reports_an_empty_whois_answer(registry: RegistryServer) -> None:
    async def nothing(query: str) -> bytes:
        return b""

    port = registry.whois(nothing)
    with pytest.raises(RegistryUnavailable, match="empty"):
        whois(f"127.0.0.1:{port}", "192.0.2.1")


def test_it_refuses_a_whois_referral_to_a_private_address() -> None:
    with pytest.raises(Refused):
        whois("10.0.0.1:43", "192.0.2.1")


def test_it_refuses_to_send_a_query_with_line_breaks() -> None:
    with pytest.raises(RegistryUnavailable, match="malformed"):
        whois("127.0.0.1:43", "x\r\nquit")


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ("whois.apnic.net", ("whois.apnic.net", 43)),
        ("127.0.0.1:4343", ("127.0.0.1", 4343)),
        ("[::1]:4343", ("::1", 4343)),
        ("[::1]", ("::1", 43)),
        # A referral in a registry answer is a stranger's text: "²".isdigit() is true.
        ("whois.example.net:²", ("whois.example.net:²", 43)),
    ],
)
def test_it_reads_server_names(server: str, expected: tuple[str, int]) -> None:
    assert split_server(server) == expected


def test_it_asks_each_real_server_in_its_dialect() -> None:
    assert WhoisClient.query_for("whois.arin.net", "192.0.2.1") == "n + 192.0.2.1"
    assert WhoisClient.query_for("whois.ripe.net", "192.0.2.1") == "-r 192.0.2.1"
    assert WhoisClient.query_for("127.0.0.1:43", "192.0.2.1") == "192.0.2.1"


def test_limits_are_shared_by_threads() -> None:
    assert isinstance(LIMITER, RateLimiter)
