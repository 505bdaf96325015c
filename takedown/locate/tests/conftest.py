from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from takedown.locate.bootstrap import reset_bootstrap
from takedown.locate.clients import LIMITER
from takedown.locate.engine import clear_caches
from takedown.locate.tests.servers import LoopThread
from takedown.sandbox.testing import sandbox, sandbox_factory, sandbox_settings  # noqa: F401


@pytest.fixture(autouse=True)
def _fresh_locator_state(settings: Any, tmp_path: Any) -> Iterator[None]:
    # Process-wide caches and limits would leak between tests otherwise.
    clear_caches()
    LIMITER.reset()
    reset_bootstrap()
    settings.DATA_DIR = tmp_path
    settings.ALLOW_LOOPBACK_TARGETS = True
    settings.REGISTRY_TIMEOUT = 3.0
    settings.DNS_TIMEOUT = 1.0
    settings.REGISTRY_MAX_WAIT = 5.0
    yield
    clear_caches()
    LIMITER.reset()
    reset_bootstrap()


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.stop()
