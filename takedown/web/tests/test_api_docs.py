"""/api/docs works on a closed network: Swagger UI from our own files, under a CSP."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from takedown.web.tests.test_browser import page, server  # noqa: F401 - fixtures

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


def test_the_docs_page_loads_only_local_assets_under_a_csp() -> None:
    r = Client().get("/api/docs")
    assert r.status_code == 200
    csp = r["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "default-src 'none'" in csp
    body = r.content.decode()
    assert "cdn." not in body and "https://" not in body
    assert "/static/ninja/swagger-ui-bundle.js" in body
    assert Client().get("/static/ninja/swagger-ui-bundle.js").status_code == 200


def test_swagger_ui_renders_offline_in_a_browser(page: Any, server: str) -> None:  # noqa: F811
    ours = urlsplit(server).netloc
    elsewhere: list[str] = []
    violations: list[str] = []

    def route(request_route: Any) -> None:
        if urlsplit(request_route.request.url).netloc == ours:
            request_route.continue_()
        else:
            elsewhere.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.goto(f"{server}/api/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "Takedown API" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() >= 5
    # Opening an operation and its "Try it out" form draws more of the UI.
    page.locator(".opblock-summary").first.click()
    page.wait_for_selector(".try-out__btn", timeout=30_000)
    page.locator(".try-out__btn").first.click()
    page.wait_for_selector(".execute", timeout=30_000)
    assert elsewhere == [] and violations == []
