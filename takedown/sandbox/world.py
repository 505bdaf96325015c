"""The sandbox's run-time state: which sites are up, what happened when.

Changed only from the sandbox's event loop thread; other threads read it (the
GIL makes single reads and list appends safe, and readers take copies).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from takedown.sandbox.scenario import Organization, Scenario, Site


@dataclass
class SiteRuntime:
    site: Site
    org: Organization
    # up | down | absent (before ``appears_at``)
    status: str = "up"
    style: str | None = None  # takedown style while down
    takedowns: int = 0
    revivals: int = 0
    down_at: float | None = None
    takedown_scheduled: bool = False

    @property
    def is_up(self) -> bool:
        return self.status == "up"


@dataclass
class Event:
    at: float  # seconds since the sandbox started
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


class World:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.started = time.monotonic()
        self.events: list[Event] = []
        self.sites: dict[str, SiteRuntime] = {}
        self.by_host: dict[str, list[SiteRuntime]] = {}
        for site in scenario.sites:
            rt = SiteRuntime(site=site, org=scenario.org_for_site(site))
            if not site.up:
                rt.status, rt.style = "down", "404"
            elif site.appears_at:
                rt.status = "absent"
            self.sites[site.id] = rt
            for host in (site.host, *site.aliases):
                self.by_host.setdefault(host, []).append(rt)
        for runtimes in self.by_host.values():
            # Longest path first, so /a/b/ wins over /a/ when both are sites.
            runtimes.sort(key=lambda rt: len(rt.site.path), reverse=True)

    def now(self) -> float:
        return time.monotonic() - self.started

    def log(self, kind: str, **detail: Any) -> Event:
        event = Event(round(self.now(), 3), kind, detail)
        self.events.append(event)
        return event

    def site_for(self, host: str, path: str) -> tuple[SiteRuntime | None, list[SiteRuntime]]:
        """The site serving ``path`` on ``host`` (or None) and every site on that host."""
        runtimes = self.by_host.get(host, [])
        for rt in runtimes:
            prefix = rt.site.path
            if path == prefix or path.startswith(prefix if prefix.endswith("/") else prefix + "/"):
                return rt, runtimes
            if prefix.endswith("/") and path == prefix.rstrip("/"):
                return rt, runtimes
        return None, runtimes
