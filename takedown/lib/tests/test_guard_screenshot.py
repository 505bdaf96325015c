"""The screenshot path: Chromium reaches no address the guard refuses, after redirects too."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from takedown.lib.fetch import FetchPolicy
from takedown.monitor.screenshot import CHROMIUM_ARGS, capture, closed_port, closed_proxy_args
from takedown.monitor.tests.farm import LoopThread

# Chromium and Playwright's driver are processes of their own.
pytestmark = pytest.mark.concurrency

HOST = "127.0.0.5"
PAGE = """<!doctype html><html><body><h1>Example Bank</h1>
<img src="http://192.0.0.192/latest/meta-data/">
<img src="http://[fec0::1]/x.png">
<iframe src="/to-special"></iframe></body></html>"""


class Server:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.port = 0

    async def handler(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path] += 1
        if request.path == "/to-special":
            # A redirect to the IETF protocol block, where a cloud's metadata lives.
            raise web.HTTPFound("http://192.0.0.192/latest/meta-data/")
        return web.Response(text=PAGE, content_type="text/html")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handler)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self.runner.setup()
        with socket.socket() as s:
            s.bind((HOST, 0))
            self.port = int(s.getsockname()[1])
        await web.TCPSite(self.runner, HOST, self.port).start()

    async def stop(self) -> None:
        await self.runner.cleanup()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    loop = LoopThread()
    srv = Server()
    loop.run(srv.start())
    yield srv
    loop.run(srv.stop())
    loop.stop()


@pytest.fixture
def chromium(settings: Any) -> str:
    path = settings.CHROMIUM_PATH
    if not Path(path).exists():
        pytest.skip(f"Chromium is not installed at {path}")
    return str(path)


def test_it_refuses_special_purpose_addresses_chromium_asks_for(
    server: Server, chromium: str
) -> None:
    policy = FetchPolicy(
        allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
        http_port=server.port,
        connect_timeout=2,
        read_timeout=2,
        total_timeout=3,
    )
    png, refused = asyncio.run(
        capture(f"http://{HOST}/page", policy=policy, chromium_path=chromium, timeout=20)
    )
    assert png.startswith(b"\x89PNG")
    assert "http://192.0.0.192/latest/meta-data/" in refused
    assert "http://[fec0::1]/x.png" in refused
    # The frame's redirect is followed by our fetcher, which refuses its target.
    assert f"http://{HOST}/to-special" in refused
    assert server.hits["/to-special"] == 1


async def _open_directly(chromium: str, url: str, args: list[str]) -> None:
    """Chromium with our flags but no request routing: only the flags stand guard."""
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=args)
        try:
            page = await browser.new_page()
            with contextlib.suppress(PlaywrightError):
                await page.goto(url, timeout=10_000)
        finally:
            await browser.close()


def test_the_dead_proxy_stops_what_no_route_intercepts(server: Server, chromium: str) -> None:
    url = f"http://{HOST}:{server.port}/direct"
    bare = [a for a in CHROMIUM_ARGS if not a.startswith("--host-resolver-rules")]
    with closed_port() as port:
        asyncio.run(_open_directly(chromium, url, bare + closed_proxy_args(port)))
    assert server.hits["/direct"] == 0
    # The same browser without the proxy flags does reach the address.
    asyncio.run(_open_directly(chromium, url, bare))
    assert server.hits["/direct"] == 1
