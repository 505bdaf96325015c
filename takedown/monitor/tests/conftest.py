from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from takedown.cases import pipeline
from takedown.lib.fetch import FetchPolicy
from takedown.monitor.tests.farm import Farm, LoopThread


@pytest.fixture(scope="session")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    loop = LoopThread()
    f = Farm(Path(tmp_path_factory.mktemp("farm")))
    loop.run(f.start())
    yield f
    loop.run(f.stop())
    loop.stop()


@pytest.fixture
def policy(farm: Farm) -> FetchPolicy:
    """Loopback allowed (as in the sandbox), the farm's DNS, ports and CA."""
    return FetchPolicy(
        allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
        resolver=farm.resolver,
        http_port=farm.http_port,
        https_port=farm.https_port,
        ca_bundle=str(farm.ca_file),
        connect_timeout=2,
        read_timeout=2,
        total_timeout=3,
        max_body=64 * 1024,
    )


@pytest.fixture
def farm_settings(settings: Any, farm: Farm, tmp_path: Path) -> Any:
    settings.ALLOW_LOOPBACK_TARGETS = True
    settings.LOOPBACK_TARGETS = ["127.0.0.0/8"]
    settings.DNS_RESOLVER = farm.resolver
    settings.HTTP_PORT = farm.http_port
    settings.HTTPS_PORT = farm.https_port
    settings.CA_BUNDLE = str(farm.ca_file)
    settings.FETCH_CONNECT_TIMEOUT = 2
    settings.FETCH_READ_TIMEOUT = 2
    settings.FETCH_TIMEOUT = 3
    settings.FETCH_MAX_BODY = 64 * 1024
    settings.CHECK_INTERVAL = 60
    settings.CONFIRM_DOWN = 2
    settings.WATCH_FOR = 3600
    settings.SCREENSHOTS = False
    settings.KEEP_MALWARE = False
    settings.DATA_DIR = tmp_path
    settings.MEDIA_ROOT = tmp_path / "evidence"
    return settings


class PipelineCalls:
    """Records the monitor's hand-offs instead of running the notices step."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def of(self, name: str) -> list[int]:
        return [site_id for fn, site_id in self.calls if fn == name]


@pytest.fixture
def handoffs(monkeypatch: pytest.MonkeyPatch) -> PipelineCalls:
    calls = PipelineCalls()
    for name in ("site_seen_up", "site_confirmed_down", "site_revived"):
        monkeypatch.setattr(
            pipeline, name, lambda site_id, _n=name: calls.calls.append((_n, site_id))
        )
    return calls
