"""``takedown contacts (--rdap FILE | --whois FILE)``: abuse contacts of a saved answer.

Offline: parses a saved RDAP JSON response (IP network, autnum, domain or
entity) or a saved WHOIS text response and prints one JSON object
(CONTRACT.md): ``abuse``, ``org``, ``country``, ``handle``, ``prefix`` and
more fields after them.  Bad input: one line on stderr, exit status 2 or 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.locate.rdap import RdapError, load_rdap, parse_rdap
from takedown.locate.whois import decode_whois, parse_whois

MAX_INPUT_BYTES = 5 * 1024 * 1024


def read_input(name: str) -> bytes:
    try:
        if name == "-":
            data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        else:
            with Path(name).open("rb") as fh:
                data = fh.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise CommandError(f"{name}: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise CommandError(f"{name}: larger than {MAX_INPUT_BYTES} bytes")
    if not data.strip():
        raise CommandError(f"{name}: empty")
    return data


class Command(BaseCommand):
    help = "Print the abuse contacts and holder of a saved RDAP or WHOIS response as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--rdap", metavar="FILE", help="a saved RDAP JSON response ('-': stdin)")
        group.add_argument("--whois", metavar="FILE", help="a saved WHOIS response ('-': stdin)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rdap"]:
            data = read_input(options["rdap"])
            try:
                record = parse_rdap(load_rdap(data))
            except RdapError as exc:
                raise CommandError(f"{options['rdap']}: {exc}") from None
        else:
            data = read_input(options["whois"])
            if b"\x00" in data:
                raise CommandError(f"{options['whois']}: binary data, not a WHOIS response")
            record = parse_whois(decode_whois(data))
        self.stdout.write(json.dumps(record.contract(), ensure_ascii=False))
