"""Fixtures for the web tests: a sandbox of a test's own, and a real Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections

from takedown.monitor.screenshot import CHROMIUM_ARGS
from takedown.sandbox.testing import sandbox_factory  # noqa: F401

# The evidence browser maps every host name to nowhere; here it must reach the
# test server, so that one rule is left out.
TEST_CHROMIUM_ARGS = [a for a in CHROMIUM_ARGS if not a.startswith("--host-resolver-rules")]


@pytest.fixture
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright's sync API, closed after the test.

    Playwright runs an asyncio loop in this thread while the test runs, so
    Django takes the thread for an async context: its connections opened here
    are kept apart from the thread's own (asgiref's ``Local``) and the test
    database's teardown, which closes only the thread's own, could not drop
    the database on PostgreSQL ("1 other session").  They are closed here,
    inside the loop that opened them.
    """
    if not Path(settings.CHROMIUM_PATH).exists():
        pytest.skip(f"no Chromium at {settings.CHROMIUM_PATH} (make test installs it)")
    # Playwright's sync API refuses to start inside a running asyncio loop;
    # Django's async-unsafe check must also know this thread is synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=settings.CHROMIUM_PATH, args=TEST_CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            connections.close_all()
