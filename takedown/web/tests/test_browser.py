"""The handler UI in a real browser (Debian's Chromium driven by Playwright)."""

from __future__ import annotations

from typing import Any

import pytest

from takedown.cases.models import Site

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(chromium: Any) -> Any:
    return chromium.new_context(locale="en-US").new_page()


@pytest.fixture
def server(live_server: Any) -> str:
    return str(live_server.url).replace("localhost", "127.0.0.1")


def test_it_logs_in_and_takes_a_report_in_a_real_browser(
    page: Any, server: str, alice: Any
) -> None:
    page.goto(f"{server}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "correct horse battery")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert page.url == f"{server}/", page.inner_text("body")[:500]
    assert page.locator("h1").inner_text() == "Queue"

    page.goto(f"{server}/reports/new")
    page.fill("textarea[name=text]", "Phish: hxxps://login.bank-a[.]example/jp/ <b>bold</b>")
    page.select_option("select[name=reporter_type]", "financial")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{server}/reports/*/")
    site = Site.objects.get()
    assert site.url == "https://login.bank-a.example/jp/"

    page.goto(f"{server}/sites/{site.pk}/")
    assert "hxxps://login[.]bank-a[.]example/jp/" in page.inner_text("main")
    # Never a live link to the reported site.
    assert page.locator("a[href*='login.bank-a.example']").count() == 0


def test_it_switches_the_interface_to_japanese(page: Any, server: str, alice: Any) -> None:
    page.goto(f"{server}/login/")
    page.select_option("select[name=language]", "ja")
    page.click("form.inline button[type=submit]")
    page.wait_for_load_state()
    assert "ログイン" in page.inner_text("h1")
