"""Screenshots of evidence pages with headless Chromium, without letting Chromium go anywhere.

Chromium never touches the network itself:

1. Its host resolver maps every name to "not found" (``--host-resolver-rules``),
   so nothing it tries on its own can connect by name.
2. Every request it makes (page, frames, images, scripts, XHR) is intercepted by
   a Playwright route and answered from our safe fetcher, which applies the same
   policy as the checks: public addresses only (sandbox loopback when allowed),
   at most 5 redirects, capped sizes.  IP-literal URLs, which the resolver rule
   cannot stop, are refused there.
3. WebSockets are answered by a route that closes them; service workers and
   downloads are off; the profile is a new empty directory each time.
4. A request budget and a time limit bound a hostile page.
5. Anything that would still leave Chromium without passing the route (a
   request Playwright cannot intercept) goes to a proxy that is a closed port
   we hold for the capture, loopback included (``<-loopback>``): it fails.

Playwright drives the system's Chromium (``CHROMIUM_PATH``); ``playwright
install`` is never used.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile

from takedown.lib.fetch import DESKTOP_UA, Fetcher, FetchPolicy, Outcome
from takedown.monitor.models import Evidence, ScreenshotState
from takedown.monitor.policy import fetch_policy

log = logging.getLogger(__name__)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--disable-features=DnsOverHttps,NetworkPrediction",
]
MAX_REQUESTS = 150
MAX_BYTES = 20 * 1024 * 1024
# Response headers that describe the transfer we already undid (decompression,
# chunking) or that would make Chromium try to reach someone.
DROP_HEADERS = {
    "content-encoding",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "alt-svc",
    "link",
    "report-to",
    "nel",
    "set-cookie",
}


class ScreenshotError(Exception):
    pass


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port bound but never listening: connections to it are refused,
    and nobody else can take it while we hold it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def closed_proxy_args(port: int) -> list[str]:
    """Chromium flags that send every request it makes itself to a dead proxy."""
    return [f"--proxy-server=http://127.0.0.1:{port}", "--proxy-bypass-list=<-loopback>"]


class _Budget:
    def __init__(self) -> None:
        self.requests = 0
        self.bytes = 0
        self.refused: list[str] = []


async def capture(
    url: str,
    *,
    policy: FetchPolicy,
    chromium_path: str,
    timeout: float,
    max_requests: int = MAX_REQUESTS,
    max_bytes: int = MAX_BYTES,
    chromium_args: list[str] | None = None,
) -> tuple[bytes, list[str]]:
    """PNG of ``url`` as a desktop browser shows it, and the URLs that were refused."""
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import Route, WebSocketRoute, async_playwright

    budget = _Budget()
    async with Fetcher(policy) as fetcher:
        first = await fetcher.fetch(url, max_body=1024)
        if first.error == Outcome.BLOCKED:
            raise ScreenshotError(f"refused: {first.detail}")
        if first.error is not None:
            raise ScreenshotError(f"{first.error}: {first.detail}")

        async def handle(route: Route) -> None:
            request = route.request
            budget.requests += 1
            if (
                request.method not in ("GET", "HEAD")
                or budget.requests > max_requests
                or budget.bytes > max_bytes
            ):
                await route.abort("blockedbyclient")
                return
            result = await fetcher.fetch(request.url, max_body=max(0, max_bytes - budget.bytes))
            if result.error is not None or result.status is None:
                if result.error == Outcome.BLOCKED:
                    budget.refused.append(request.url[:300])
                await route.abort(
                    "blockedbyclient" if result.error == Outcome.BLOCKED else "failed"
                )
                return
            budget.bytes += len(result.body)
            headers = {k: v for k, v in result.headers if k.lower() not in DROP_HEADERS}
            await route.fulfill(status=result.status, headers=headers, body=result.body)

        async def close_socket(ws: WebSocketRoute) -> None:
            budget.refused.append(ws.url[:300])
            await ws.close()

        with (
            tempfile.TemporaryDirectory(prefix="takedown-chromium-") as profile,
            closed_port() as dead_proxy,
        ):
            args = CHROMIUM_ARGS + closed_proxy_args(dead_proxy)
            async with async_playwright() as pw:
                context = await pw.chromium.launch_persistent_context(
                    profile,
                    executable_path=chromium_path,
                    headless=True,
                    args=args if chromium_args is None else chromium_args,
                    viewport={"width": 1280, "height": 900},
                    user_agent=DESKTOP_UA,
                    service_workers="block",
                    accept_downloads=False,
                    handle_sigint=False,
                    handle_sigterm=False,
                    handle_sighup=False,
                    timeout=timeout * 1000,
                )
                try:
                    await context.route("**/*", handle)
                    await context.route_web_socket("**/*", close_socket)
                    page = context.pages[0] if context.pages else await context.new_page()
                    try:
                        await page.goto(url, wait_until="load", timeout=timeout * 1000)
                    except PlaywrightError as exc:
                        # A page that never finishes loading is still worth a picture.
                        log.info("screenshot of %s: %s", url, str(exc).splitlines()[0])
                    png = await page.screenshot(type="png", timeout=timeout * 1000)
                finally:
                    await context.close()
    return png, budget.refused


def evidence_take_screenshot(evidence_id: int) -> Evidence | None:
    """Take the pending screenshot of one Evidence row; failures are recorded, not raised."""
    evidence = Evidence.objects.filter(pk=evidence_id).first()
    if evidence is None or evidence.screenshot_state != ScreenshotState.PENDING:
        return evidence
    chromium = settings.CHROMIUM_PATH
    try:
        if not Path(chromium).exists():
            raise ScreenshotError(f"Chromium is not installed at {chromium}")
        png, refused = asyncio.run(
            asyncio.wait_for(
                capture(
                    evidence.final_url or evidence.url,
                    policy=fetch_policy(),
                    chromium_path=chromium,
                    timeout=settings.SCREENSHOT_TIMEOUT,
                ),
                timeout=settings.SCREENSHOT_TIMEOUT * 3,
            )
        )
    except Exception as exc:
        evidence.screenshot_state = ScreenshotState.FAILED
        evidence.screenshot_error = f"{type(exc).__name__}: {exc}"[:300]
        evidence.save(update_fields=["screenshot_state", "screenshot_error"])
        log.warning("screenshot of evidence %s failed: %s", evidence_id, evidence.screenshot_error)
        return evidence
    evidence.screenshot.save(
        f"site{evidence.site_id}-evidence{evidence.pk}.png", ContentFile(png), save=False
    )
    evidence.screenshot_state = ScreenshotState.DONE
    evidence.screenshot_error = (
        f"refused {len(refused)} request(s): {', '.join(refused[:3])}"[:300] if refused else ""
    )
    evidence.save(update_fields=["screenshot", "screenshot_state", "screenshot_error"])
    return evidence


def sites_screenshot(site_ids: list[int]) -> int:
    """The ``screenshot`` step: take every pending screenshot of these sites' evidence.

    A failed capture is recorded on its row (``evidence_take_screenshot``) and
    the step is done; only a crash leaves the step to be claimed again, and a
    capture that kills its process each time runs out of attempts like any
    step (a handler item).  Returns the screenshots attempted.
    """
    pending = Evidence.objects.filter(
        site_id__in=site_ids, screenshot_state=ScreenshotState.PENDING
    ).order_by("pk")
    count = 0
    for evidence_id in list(pending.values_list("pk", flat=True)):
        evidence_take_screenshot(evidence_id)
        count += 1
    return count
