from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from takedown.cases.models import SiteState, Step, Work
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
    """The work the monitor's records made due for the next steps (``Work`` rows).

    Named after the hand-offs: ``site_seen_up`` (a located site's notice step),
    ``site_revived`` (a revived site's notice step), ``site_confirmed_down``
    (the closing step).  The steps themselves are not run here.
    """

    names = ("site_seen_up", "site_confirmed_down", "site_revived")

    def of(self, name: str) -> list[int]:
        rows = Work.objects.filter(
            step=Step.CLOSE if name == "site_confirmed_down" else Step.NOTICE_PLAN
        )
        if name == "site_seen_up":
            rows = rows.exclude(site__state=SiteState.REVIVED)
        elif name == "site_revived":
            rows = rows.filter(site__state=SiteState.REVIVED)
        return [pk for pk in rows.order_by("pk").values_list("site_id", flat=True) if pk]

    @property
    def calls(self) -> list[tuple[str, int]]:
        return [(name, pk) for name in self.names for pk in self.of(name)]


@pytest.fixture
def handoffs() -> PipelineCalls:
    return PipelineCalls()
