"""``takedown locate URL [--json]``: who is responsible for a URL, looked up live.

DNS, then the registries (RDAP, WHOIS fallback, the offline AS table), then the
classification; the networks and organisations found are stored in the
directory as the background task would.  ``--json`` prints the object described
in CONTRACT.md (and more fields after those).  A URL that cannot be used ends
with one line on stderr and exit status 2; a lookup that finds nothing still
prints its result (``"outcome": "unresolvable"`` and the reason).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.intake.extract import InvalidURL, normalise_url
from takedown.locate.services import locate_hosts, location_json, record_run


class Command(BaseCommand):
    help = "Find the IP address holder, its type and abuse contacts, and the registrar of a URL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url", help="the URL (defanged forms are accepted)")
        parser.add_argument("--json", action="store_true", help="print JSON (CONTRACT.md)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            target = normalise_url(options["url"])
        except InvalidURL as exc:
            raise CommandError(str(exc), returncode=2) from None
        run = locate_hosts({target.host: target.registered_domain})
        orgs = record_run(run)
        res = run.results[target.host]
        org, registrar = orgs.get(target.host, (None, None))
        data = location_json(target.url, res, org, registrar)
        data["queries"] = run.queries
        if options["json"]:
            self.stdout.write(json.dumps(data, ensure_ascii=False))
            return
        self.stdout.write(_readable(data))


def _readable(data: dict[str, Any]) -> str:
    lines = [f"{data['url']}  ({data['host']})"]
    if data["outcome"] != "located":
        lines.append(f"  not located: {data['reason']}")
    lines.append(f"  addresses: {', '.join(data['ips']) or '-'}")
    lines.append(f"  AS{data['asn']}  {data['prefix'] or '-'}  {data['registry'] or ''}".rstrip())
    org = data.get("org")
    if org:
        where = "domestic" if org.get("domestic") else "overseas" if org.get("country") else "?"
        lines.append(
            f"  holder: {org['name']}  [{org['kind']}, {org.get('country') or '?'}, {where}]"
        )
    lines.append(f"  abuse: {', '.join(data['abuse']) or '-'}")
    reg = data.get("registrar")
    if reg:
        lines.append(f"  registrar: {reg['name']}  abuse: {', '.join(reg['abuse']) or '-'}")
    if data.get("cdn"):
        lines.append(f"  CDN in front: {data['cdn']['name']} (by {data['cdn']['by']})")
    lines.append(f"  sources: {', '.join(data['sources']) or '-'}")
    for error in data.get("errors") or []:
        lines.append(f"  note: {error}")
    return "\n".join(lines)
