"""``takedown csirt``: the national CSIRTs escalations go to, per hosting country.

    takedown csirt list [--json] [--enabled]
    takedown csirt enable CC [--email E] [--name N] [--language ja|en]
    takedown csirt disable CC

Shipped rows are disabled (docs/notices.md, "The national CSIRT table"): an
operator checks a team's address on its own web site, then enables it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email

from takedown.notices.models import CountryCSIRT
from takedown.notices.services import country_csirt_set


def _country(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{2}", value):
        raise CommandError(f"{value!r} is not an ISO 3166 two-letter country code")
    return value.upper()


class Command(BaseCommand):
    help = "List, enable or disable the national CSIRTs escalations go to."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="the table, one country a line")
        listing.add_argument("--json", action="store_true", help="one JSON object per line")
        listing.add_argument("--enabled", action="store_true", help="enabled rows only")
        enable = sub.add_parser("enable", help="check the address first, then enable it")
        enable.add_argument("country")
        enable.add_argument("--email", help="the team's address for incident reports")
        enable.add_argument("--name", help="the team's name")
        enable.add_argument("--language", choices=["ja", "en"])
        disable = sub.add_parser("disable", help="escalations no longer go to this team")
        disable.add_argument("country")

    def handle(self, *args: Any, **opts: Any) -> None:
        action = opts["action"]
        if action == "list":
            rows = CountryCSIRT.objects.order_by("country")
            if opts["enabled"]:
                rows = rows.filter(enabled=True)
            for row in rows:
                data = {
                    "country": row.country,
                    "name": row.name,
                    "email": row.email,
                    "language": row.language,
                    "enabled": row.enabled,
                }
                if opts["json"]:
                    self.stdout.write(json.dumps(data, ensure_ascii=False))
                else:
                    mark = "on " if row.enabled else "off"
                    self.stdout.write(f"{row.country} {mark} {row.email or '-':<40} {row.name}")
            return
        country = _country(opts["country"])
        email = opts.get("email")
        if email is not None:
            try:
                validate_email(email)
            except ValidationError:
                raise CommandError(f"{email!r} is not an e-mail address") from None
        try:
            row = country_csirt_set(
                country=country,
                actor="cli",
                enabled=action == "enable",
                email=email.lower() if email else None,
                name=opts.get("name"),
                language=opts.get("language"),
            )
        except ValueError as exc:
            raise CommandError(f"{exc} (give --email)") from None
        state = "enabled" if row.enabled else "disabled"
        self.stdout.write(f"{row.country} {state}: {row.name} <{row.email or '-'}>")
