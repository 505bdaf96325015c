"""``takedown queue [--json] [--reason R ...] [--historical]``: what needs a handler.

Every item the automation could not finish, with its reason code and what it
concerns (site, notice, inbound mail, report, reporter): the same list as the
dashboard and ``GET /api/queue``.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from takedown.cases.attention import Reason
from takedown.handler_queue import handler_item_counts, handler_items


class Command(BaseCommand):
    help = "List the items that need a handler, with their reasons."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object")
        parser.add_argument(
            "--reason",
            action="append",
            choices=Reason.values,
            help="only this reason (repeatable)",
        )
        parser.add_argument(
            "--historical", action="store_true", help="include sites imported as history"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            items = handler_items(reasons=opts["reason"], include_historical=opts["historical"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        counts = handler_item_counts(items)
        if opts["json"]:
            self.stdout.write(
                json.dumps(
                    {"counts": counts, "items": [item.as_json() for item in items]},
                    ensure_ascii=False,
                )
            )
            return
        if not items:
            self.stdout.write("Nothing needs a handler.")
            return
        for item in items:
            since = timezone.localtime(item.since).strftime("%Y-%m-%d %H:%M")
            about = " ".join(
                f"{label}={value}"
                for label, value in (
                    ("site", item.site_id),
                    ("notice", item.notice_id),
                    ("mail", item.inbound_id),
                    ("report", item.report_id),
                    ("reporter", item.reporter_id),
                )
                if value is not None
            )
            detail = item.detail.replace("\n", " ")[:120]
            self.stdout.write(f"{since}  {item.reason:<17} {about}  {detail}".rstrip())
        total = ", ".join(f"{n} {reason}" for reason, n in counts.items())
        self.stdout.write(f"{len(items)} items: {total}")
