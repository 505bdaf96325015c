"""``takedown reporter add|load``: put the reporters a team knows in the directory."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.intake.models import ReporterKind
from takedown.intake.services import ReporterInfo, ReportError, reporter_register


class Command(BaseCommand):
    help = "Add a known reporter (add), or several from a JSON list (load FILE|-), classified."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add or update one reporter")
        add.add_argument("--name", default="")
        add.add_argument("--email", default="")
        add.add_argument("--type", default="other", choices=ReporterKind.values)
        add.add_argument("--country", default="")
        add.add_argument("--language", default="", choices=["", "en", "ja"])
        load = sub.add_parser(
            "load", help='a JSON list of {"name", "email", "type", "country", "language"}'
        )
        load.add_argument("file", help="path, or - for stdin")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["action"] == "add":
            rows = [{k: opts[k] for k in ("name", "email", "type", "country", "language")}]
        else:
            rows = self._load(opts["file"])
        for i, row in enumerate(rows):
            try:
                reporter = reporter_register(
                    info=ReporterInfo(
                        name=str(row.get("name") or ""),
                        email=str(row.get("email") or ""),
                        kind=str(row.get("type") or "other"),
                        country=str(row.get("country") or ""),
                        language=str(row.get("language") or ""),
                    ),
                    actor="cli",
                )
            except ReportError as exc:
                raise CommandError(f"reporter {i + 1}: {exc}") from None
            self.stdout.write(f"{reporter.pk}\t{reporter.email or reporter.name}\t{reporter.kind}")

    @staticmethod
    def _load(path: str) -> list[dict[str, Any]]:
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
            rows = json.loads(text)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise CommandError(f"{path}: expected a JSON list of objects")
        return rows
