"""``takedown probe [--all | SITE...]``: check sites now and print a table.

The seed's bulk case is a status check of a whole report ("17 sites: 3 up, 14
down").  The checks are recorded and acted on like the monitor's own (a
takedown confirmed, a revival noticed).  SITE is a site id or its URL.
"""

from __future__ import annotations

import io
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.table import Table

from takedown.cases.models import Site
from takedown.lib.defang import defang
from takedown.lib.ids import parse_id
from takedown.monitor import services
from takedown.monitor.models import Check, Verdict
from takedown.monitor.runner import Monitor


def summary_line(checks: list[Check]) -> str:
    up = sum(1 for c in checks if c.verdict == Verdict.UP)
    down = sum(1 for c in checks if c.verdict == Verdict.DOWN)
    other = len(checks) - up - down
    noun = "site" if len(checks) == 1 else "sites"
    line = f"{len(checks)} {noun}: {up} up, {down} down"
    if other:
        line += f", {other} inconclusive"
    return line


class Command(BaseCommand):
    help = "Check sites now (by id or URL, or --all) and print up/down with a summary."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("sites", nargs="*", metavar="SITE", help="site id or URL")
        parser.add_argument("--all", action="store_true", help="every site being monitored")
        parser.add_argument("--json", action="store_true", help="one JSON object per site")

    def handle(self, *args: Any, **opts: Any) -> None:
        names: list[str] = opts["sites"]
        if opts["all"] and names:
            raise CommandError("give either --all or SITE arguments, not both")
        if not opts["all"] and not names:
            raise CommandError("name the sites to probe (id or URL), or use --all")
        if opts["all"]:
            targets = services.probe_targets(None)
        else:
            targets = services.probe_targets(self._site_ids(names))
        if not targets:
            self.stdout.write("0 sites: nothing to probe")
            return
        with Monitor() as monitor:
            checks = monitor.check_targets(targets)
        checks.sort(key=lambda c: c.site_id)
        sites = Site.objects.in_bulk([c.site_id for c in checks])
        if opts["json"]:
            for c in checks:
                site = sites[c.site_id]
                row = {
                    "site": c.site_id,
                    "url": site.url,
                    "state": site.state,
                    "outcome": c.outcome,
                    "verdict": c.verdict,
                    "status": c.status,
                    "ip": c.ip,
                    "latency_ms": c.latency_ms,
                    "detail": c.detail,
                    # Which browser got that answer, and the other's when both were asked.
                    "agent": c.agent,
                    "other_agent": c.other_agent,
                    "other_outcome": c.other_outcome,
                    "other_detail": c.other_detail,
                }
                self.stdout.write(json.dumps(row, ensure_ascii=False))
            self.stderr.write(summary_line(checks))
            return
        table = Table(show_edge=False)
        for col in ("site", "url", "state", "outcome", "verdict", "status", "ip", "ms", "detail"):
            table.add_column(col, overflow="fold")
        for c in checks:
            site = sites[c.site_id]
            table.add_row(
                str(c.site_id),
                defang(site.url),
                site.state,
                c.outcome,
                c.verdict,
                str(c.status or ""),
                c.ip or "",
                str(c.latency_ms or ""),
                c.detail[:80],
            )
        buffer = io.StringIO()
        Console(file=buffer, width=160, markup=False, highlight=False).print(table)
        self.stdout.write(buffer.getvalue().rstrip("\n"))
        self.stdout.write(summary_line(checks))

    def _site_ids(self, names: list[str]) -> list[int]:
        ids: list[int] = []
        for name in names:
            site_id = parse_id(name)
            if site_id is not None:
                site = Site.objects.filter(pk=site_id).only("pk", "historical").first()
            else:
                site = Site.objects.filter(url=_normalised(name)).only("pk", "historical").first()
            if site is None:
                raise CommandError(f"no such site: {name}")
            if site.historical:
                raise CommandError(f"site {name} is historical (imported history is never checked)")
            ids.append(site.pk)
        return ids


def _normalised(url: str) -> str:
    """The stored form of a URL typed by a handler (defanged forms too)."""
    from takedown.intake.extract import InvalidURL, normalise_url

    try:
        return normalise_url(url).url
    except InvalidURL:
        return url
