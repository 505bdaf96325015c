"""Build known timelines for the statistics tests, through the real write paths.

Reports go through ``report_receive``, state changes through
``site_transition`` (so the transitions are checked as in production) and the
other events through ``event_record``, each at an exact time.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from takedown.cases.models import EventKind, Site, SiteState
from takedown.cases.services import event_record, site_transition
from takedown.intake.services import ReporterInfo, report_receive
from takedown.locate.models import Organization

JST = ZoneInfo("Asia/Tokyo")


def jst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JST)


class History:
    def __init__(self) -> None:
        self._n = itertools.count(1)
        self._notice = itertools.count(1)

    def org(self, name: str, kind: str = "isp", country: str = "JP") -> Organization:
        return Organization.objects.create(name=name, kind=kind, country=country)

    def report(
        self,
        at: datetime,
        *,
        urls: int | list[str] = 1,
        kind: str = "csirt",
        country: str = "JP",
        reporter: str = "",
        brand: str = "",
    ) -> list[Site]:
        if isinstance(urls, int):
            urls = [f"http://phish{next(self._n)}.example/login" for _ in range(urls)]
        name = reporter or f"{kind}-{country}"
        result = report_receive(
            channel="api",
            urls=urls,
            reporter=ReporterInfo(
                name=name, email=f"{name.lower()}@reporter.example", kind=kind, country=country
            ),
            received=at,
            brand=brand,
        )
        return result.sites

    def site(
        self,
        at: datetime,
        org: Organization | None = None,
        *,
        ip: str | None = None,
        brand: str = "",
        url: str = "",
    ) -> Site:
        (site,) = self.report(at, urls=[url] if url else 1, brand=brand)
        if org is not None or ip is not None:
            self.locate(site, org, at=at, ip=ip)
        return site

    def locate(
        self, site: Site, org: Organization | None, *, at: datetime, ip: str | None = None
    ) -> None:
        site.organization = org
        site.ip = ip or f"192.0.2.{site.pk % 250 + 1}"
        site_transition(
            site,
            SiteState.LOCATED,
            kind=EventKind.LOCATE_DONE,
            organization=org,
            at=at,
            update_fields=["ip", "organization"],
        )

    def notify(self, sites: list[Site], at: datetime, org: Organization | None = None) -> int:
        notice = next(self._notice)
        for site in sites:
            site_transition(
                site,
                SiteState.NOTIFIED,
                kind=EventKind.NOTICE_SENT,
                organization=org or site.organization,
                at=at,
                data={"notice": notice, "to": ["abuse@example.net"], "followup": 0},
            )
        return notice

    def reply(
        self, notice: int, at: datetime, org: Organization | None = None, *, human: bool = True
    ) -> None:
        event_record(
            kind=EventKind.NOTICE_REPLIED,
            organization=org,
            at=at,
            data={"notice": notice, "human": human},
        )

    def down(self, site: Site, at: datetime) -> None:
        site_transition(site, SiteState.DOWN, kind=EventKind.SITE_DOWN, at=at)

    def closed(self, site: Site, at: datetime, *, told: bool = True) -> None:
        if told:
            event_record(
                kind=EventKind.REPORTER_CLOSED_SENT, site=site, at=at, data={"reporter": 1}
            )
        site_transition(site, SiteState.CLOSED, kind=EventKind.SITE_CLOSED, at=at)

    def revive(self, site: Site, at: datetime) -> None:
        site_transition(site, SiteState.REVIVED, kind=EventKind.SITE_REVIVED, at=at)

    def case(
        self,
        org: Organization,
        notified: datetime,
        down_after: timedelta | None,
        *,
        replied: bool = True,
        told_after: timedelta | None = None,
        brand: str = "",
        ip: str | None = None,
    ) -> Site:
        """One site: reported and located at ``notified``, noticed, down after the delay."""
        site = self.site(notified, org, brand=brand, ip=ip)
        notice = self.notify([site], notified, org)
        if replied:
            self.reply(notice, notified + timedelta(minutes=1), org)
        if down_after is not None:
            self.down(site, notified + down_after)
            if told_after is not None:
                self.closed(site, notified + down_after + told_after)
        return site
