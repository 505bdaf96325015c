"""``takedown checks-compact``: merge old runs of equal verdicts (the raw-detail retention).

Runs older than ``TAKEDOWN_CHECK_DETAIL_DAYS`` that follow a run of the same
verdict lose what set them apart (an address, a redirect target, the other
browser's answer) and are counted in it; a change of verdict, and any run the
timeline or an evidence names, is never merged.  Run it daily (cron, a systemd
timer); it is idempotent.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from takedown.monitor.services import checks_compact


class Command(BaseCommand):
    help = "Merge a site's runs of checks older than the retention that have the same verdict."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=float,
            default=None,
            help="keep the raw detail of this many days (default TAKEDOWN_CHECK_DETAIL_DAYS)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        days = settings.CHECK_DETAIL_DAYS if opts["days"] is None else opts["days"]
        merged = checks_compact(older_than=timezone.now() - timedelta(days=days))
        self.stdout.write(
            f"{merged} runs merged into the run before them (older than {days:g} days)"
        )
