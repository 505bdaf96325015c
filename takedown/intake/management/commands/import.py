"""``takedown import FILE``: bulk-import reports from CSV (JPCERT/CC's list format included)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from takedown.intake.importer import ImportError_, import_csv
from takedown.intake.models import ReporterKind
from takedown.intake.services import ReporterInfo, ReportError, reporter_get_or_create


class Command(BaseCommand):
    help = "Import reports from CSV files (columns date,URL,description or a 'url' column)."
    # The system checks import the whole URL conf (the web UI, its charts):
    # seconds and tens of MB an import does not need; `takedown migrate` and
    # the web role run them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", help="CSV files or directories of them")
        parser.add_argument(
            "--history",
            action="store_true",
            help="past reports: count them in the statistics but do not locate, notify or check",
        )
        parser.add_argument("--name", default="", help="reporter name")
        parser.add_argument("--email", default="")
        parser.add_argument("--type", default="other", choices=ReporterKind.values)
        parser.add_argument("--country", default="")
        parser.add_argument("--timezone", default="", help="time zone of naive dates")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **opts: Any) -> None:
        files: list[Path] = []
        for name in opts["files"]:
            path = Path(name)
            if path.is_dir():
                files.extend(sorted(path.rglob("*.csv")))
            elif path.exists():
                files.append(path)
            else:
                raise CommandError(f"{name}: no such file")
        if not files:
            raise CommandError("no CSV files found")
        tz = None
        if opts["timezone"]:
            try:
                tz = ZoneInfo(opts["timezone"])
            except (ZoneInfoNotFoundError, ValueError):
                raise CommandError(f"unknown time zone {opts['timezone']!r}") from None
        try:
            reporter = reporter_get_or_create(
                ReporterInfo(
                    name=opts["name"],
                    email=opts["email"],
                    kind=opts["type"],
                    country=opts["country"],
                )
            )
        except ReportError as exc:
            raise CommandError(str(exc)) from None

        total_bytes = sum(f.stat().st_size for f in files)
        totals = {"rows": 0, "imported": 0, "skipped": 0, "bad": 0, "new_sites": 0}
        errors: list[str] = []
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            disable=opts["quiet"],
            transient=True,
        ) as progress:
            task = progress.add_task("importing", total=total_bytes)
            done_bytes = 0
            for path in files:
                progress.update(task, description=path.name)
                base = done_bytes

                def advance(n: int, base: int = base) -> None:
                    progress.update(task, completed=base + n)

                try:
                    stats = import_csv(
                        path, reporter=reporter, historical=opts["history"], tz=tz, progress=advance
                    )
                except ImportError_ as exc:
                    raise CommandError(str(exc)) from None
                done_bytes += path.stat().st_size
                for key in totals:
                    totals[key] += getattr(stats, key)
                errors.extend(stats.errors)
        for error in errors[:20]:
            self.stderr.write(f"bad row: {error}")
        if len(errors) > 20:
            self.stderr.write(f"... and {len(errors) - 20} more bad rows")
        self.stdout.write(
            f"{len(files)} file(s): {totals['rows']} rows, {totals['imported']} imported, "
            f"{totals['skipped']} already there, {totals['bad']} bad, "
            f"{totals['new_sites']} new sites"
        )
