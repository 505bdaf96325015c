"""``takedown report``: submit a report from the command line or stdin."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.intake.models import TLP, Purpose, ReporterKind
from takedown.intake.services import ReporterInfo, ReportError, report_receive


class Command(BaseCommand):
    help = "Report phishing or malware URLs (arguments, or text on stdin)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("items", nargs="*", help="URLs or text; '-' or nothing reads stdin")
        parser.add_argument("--name", default="", help="reporter name")
        parser.add_argument("--email", default="", help="reporter e-mail address")
        parser.add_argument("--type", default="other", choices=ReporterKind.values)
        parser.add_argument("--country", default="", help="reporter country (ISO code)")
        parser.add_argument("--language", default="", choices=["", "en", "ja"])
        parser.add_argument("--purpose", default="request", choices=Purpose.values)
        parser.add_argument("--tlp", default="amber", choices=TLP.values)
        parser.add_argument("--kind", default="", choices=["", "phishing", "malware"])
        parser.add_argument("--brand", default="", help="the brand the site impersonates")
        parser.add_argument("--subject", default="")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **opts: Any) -> None:
        items: list[str] = opts["items"]
        if not items or items == ["-"]:
            data = sys.stdin.buffer.read()
            if b"\x00" in data:
                raise CommandError("stdin holds binary data, not text")
            text = data.decode("utf-8", errors="replace")
        else:
            text = "\n".join(items)
        try:
            result = report_receive(
                channel="cli",
                text=text,
                reporter=ReporterInfo(
                    name=opts["name"],
                    email=opts["email"],
                    kind=opts["type"],
                    country=opts["country"],
                    language=opts["language"],
                ),
                purpose=opts["purpose"],
                tlp=opts["tlp"],
                kind=opts["kind"],
                brand=opts["brand"],
                subject=opts["subject"],
                actor="cli",
            )
        except ReportError as exc:
            kept = f" (kept as report {exc.report.pk})" if exc.report else ""
            raise CommandError(f"{exc}{kept}") from None
        if opts["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "report": result.report.pk,
                        "token": result.report.token,
                        "sites": [
                            {"id": s.pk, "url": s.url, "state": s.state} for s in result.sites
                        ],
                        "new_sites": len(result.new_sites),
                        "errors": result.errors,
                    }
                )
            )
            return
        self.stdout.write(
            f"report {result.report.pk} [{result.report.token}]: {len(result.sites)} site(s), "
            f"{len(result.new_sites)} new"
        )
        for site in result.sites:
            self.stdout.write(f"  site {site.pk}  {site.state:<12} {site.defanged_url}")
        for error in result.errors:
            self.stderr.write(f"  skipped: {error}")
