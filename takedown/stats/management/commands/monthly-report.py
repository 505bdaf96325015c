"""``takedown monthly-report 2025-06 [--pdf OUT | --html OUT] [--lang ja|en]``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.stats.calendar import parse_month
from takedown.stats.report import ReportError, html_to_pdf, report_html


class Command(BaseCommand):
    help = "Write the monthly report (tables and charts) as HTML or PDF."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("month", help="the month, e.g. 2025-06")
        out = parser.add_mutually_exclusive_group()
        out.add_argument("--pdf", metavar="OUT", help="write a PDF (printed by Chromium)")
        out.add_argument("--html", metavar="OUT", help="write self-contained HTML ('-': stdout)")
        parser.add_argument(
            "--lang",
            choices=[code for code, _ in settings.LANGUAGES],
            default=settings.LANGUAGE_CODE,
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            year, month = parse_month(opts["month"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        target = opts["pdf"] or opts["html"] or "-"
        if target != "-":
            folder = Path(target).resolve().parent
            if not folder.is_dir():
                raise CommandError(f"{target}: the folder {folder} does not exist")
        html = report_html(year, month, lang=opts["lang"])
        try:
            if opts["pdf"]:
                html_to_pdf(html, Path(opts["pdf"]))
            elif target == "-":
                sys.stdout.write(html)
                return
            else:
                Path(target).write_text(html, encoding="utf-8")
        except ReportError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"{target}: {exc.strerror or exc}") from None
        self.stdout.write(f"wrote {target}")
