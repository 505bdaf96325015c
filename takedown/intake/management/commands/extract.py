"""``takedown extract [FILE|-] [--eml]``: the URLs in text, an e-mail, a PDF or an image.

One JSON object per distinct URL, in order of first appearance (CONTRACT.md),
with ``source``: where it was first found (``mail.Source.as_dict``).
Bad input ends with one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import codecs
import json
import sys
from pathlib import Path
from typing import Any

import charset_normalizer
from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.intake.attachments import sniff
from takedown.intake.extract import extract_urls
from takedown.intake.mail import (
    MAX_MESSAGE_BYTES,
    MailURLs,
    Source,
    find_urls,
    find_urls_in_file,
    looks_like_email,
    parse_message,
)

# A report is text or one e-mail; anything bigger is a mistake or an attack.
MAX_INPUT_BYTES = MAX_MESSAGE_BYTES


def decode_text(data: bytes) -> str:
    """Text from bytes of unknown encoding; CommandError when it is not text."""
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    if b"\x00" in data:
        raise CommandError("input is binary data (NUL bytes), not text or an e-mail")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Reports from Japanese Windows users are often Shift_JIS, older ones EUC-JP.
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise CommandError("input is not text in any encoding recognised")
    text = str(best)
    controls = sum(1 for ch in text if ch < " " and ch not in "\t\n\r\f\v\x1b")
    if controls > len(text) // 20:
        raise CommandError("input is binary data, not text or an e-mail")
    return text


class Command(BaseCommand):
    help = (
        "Print the URLs in free text, an e-mail, a PDF or an image (QR codes) as JSON lines"
        " (one per distinct URL)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "file", nargs="?", default="-", help="a file to read; '-' (default) is stdin"
        )
        parser.add_argument(
            "--eml",
            action="store_true",
            help="read the input as an e-mail (automatic when it starts with mail headers)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["file"]
        data = self._read(name)
        if options["eml"] or looks_like_email(data):
            found = find_urls(parse_message(data))
        elif sniff(data):
            found = find_urls_in_file(data, "stdin" if name == "-" else Path(name).name)
        else:
            found = MailURLs()
            found.add(extract_urls(decode_text(data)), Source("text"))
        # Warnings show by default: a limit that hid part of the input must be seen.
        if options["verbosity"] >= 1:
            for warning in found.warnings:
                self.stderr.write(f"warning: {warning}")
        for url in found.urls:
            line = {**url.as_dict(), "source": found.sources[url.url][0].as_dict()}
            self.stdout.write(json.dumps(line, ensure_ascii=False))

    def _read(self, name: str) -> bytes:
        try:
            if name == "-":
                data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
            else:
                with Path(name).open("rb") as handle:
                    data = handle.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise CommandError(f"cannot read {name}: {exc.strerror or exc}") from None
        if len(data) > MAX_INPUT_BYTES:
            raise CommandError(f"{name} is larger than {MAX_INPUT_BYTES} bytes")
        return data
