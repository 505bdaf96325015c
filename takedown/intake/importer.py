"""Bulk import of reports from CSV files.

Formats: JPCERT/CC's phishing URL list (``date,URL,description``: confirmation
time, URL, spoofed brand) and any CSV with a ``url`` column (optional
``date``/``reported``, ``brand``/``description``, ``kind``).

Each row becomes one Report whose raw text is the row itself.  A row's
dedupe key is a hash of its content, so importing the same file twice, or
resuming an interrupted import, adds nothing that is already there.  Work is
done in batches of a few thousand rows with bulk inserts: the per-row cost is
the URL normalisation, not the database.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, TextIO

from django.db import transaction
from django.utils import timezone

from takedown.cases.models import Event, EventKind
from takedown.cases.services import sites_create_bulk
from takedown.intake.extract import InvalidURL, normalise_url
from takedown.intake.models import Report, Reporter, ReportStatus
from takedown.lib.bulk import insert_rows

BATCH = 5000
DATE_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")


class ImportError_(ValueError):
    """The file cannot be imported at all (not CSV, no URL column)."""


@dataclass
class ImportStats:
    rows: int = 0
    imported: int = 0
    skipped: int = 0  # already imported earlier
    bad: int = 0
    new_sites: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class _Row:
    line: int
    raw: str
    url: str
    date: str
    brand: str
    kind: str


def _parse_date(value: str, tz: tzinfo) -> datetime:
    value = value.strip()
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
        for fmt in DATE_FORMATS:
            try:
                parsed = datetime.strptime(value, fmt)  # noqa: DTZ007 - made aware below
                break
            except ValueError:
                continue
    if parsed is None:
        raise ValueError(f"unrecognised date {value[:40]!r}")
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=tz)
    return parsed


def _rows(stream: TextIO) -> Iterator[_Row]:
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportError_("the file is empty") from None
    except csv.Error as exc:
        raise ImportError_(f"not a CSV file: {exc}") from None
    names = [h.strip().lower().lstrip("\ufeff") for h in header]
    if "url" not in names:
        raise ImportError_(f"no 'url' column in the header {header[:6]!r}")
    col = {name: i for i, name in enumerate(names)}

    def pick(fields: list[str], *keys: str) -> str:
        for key in keys:
            i = col.get(key)
            if i is not None and i < len(fields):
                return fields[i]
        return ""

    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _Row(reader.line_num, f"<unreadable: {exc}>", "", "", "", "")
            continue
        if not fields or all(not f.strip() for f in fields):
            continue
        raw = ",".join(fields)
        yield _Row(
            line=reader.line_num,
            raw=raw,
            url=pick(fields, "url").strip(),
            date=pick(fields, "date", "reported", "received"),
            brand=pick(fields, "description", "brand"),
            kind=pick(fields, "kind").strip().lower(),
        )


def import_csv(
    path: Path | str,
    *,
    reporter: Reporter | None = None,
    historical: bool = False,
    tz: tzinfo | None = None,
    purpose: str = "information",
    tlp: str = "clear",
    progress: Callable[[int], None] | None = None,
) -> ImportStats:
    """Import ``path``; ``progress`` is called with the number of bytes read so far."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportError_(f"{path}: {exc.strerror or exc}") from None
    if b"\x00" in data[:65536]:
        raise ImportError_(f"{path}: binary data, not a CSV file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp932", errors="replace")
    tz = tz or timezone.get_current_timezone()
    stats = ImportStats()
    batch: list[_Row] = []
    stream = io.StringIO(text)
    for row in _rows(stream):
        batch.append(row)
        if len(batch) >= BATCH:
            _import_batch(batch, stats, reporter, historical, tz, purpose, tlp, path.name)
            batch = []
            if progress:
                progress(len(text[: stream.tell()].encode()))
    if batch:
        _import_batch(batch, stats, reporter, historical, tz, purpose, tlp, path.name)
    if progress:
        progress(len(data))
    return stats


def _import_batch(
    rows: list[_Row],
    stats: ImportStats,
    reporter: Reporter | None,
    historical: bool,
    tz: tzinfo,
    purpose: str,
    tlp: str,
    source: str,
) -> None:
    stats.rows += len(rows)
    keyed: dict[str, _Row] = {}
    for row in rows:
        key = "csv:" + hashlib.sha256(row.raw.encode("utf-8", "replace")).hexdigest()[:60]
        keyed.setdefault(key, row)
    done = set(
        Report.objects.filter(dedupe_key__in=list(keyed)).values_list("dedupe_key", flat=True)
    )
    stats.skipped += len(rows) - len(keyed) + len(done)

    good: list[tuple[str, _Row, Any, datetime]] = []
    bad_reports: list[Report] = []
    for key, row in keyed.items():
        if key in done:
            continue
        try:
            if not row.url:
                raise ValueError("empty URL")
            extracted = normalise_url(row.url)
            if row.date.strip():
                received = _parse_date(row.date, tz)
            elif historical:
                # A past takedown without a date cannot be placed in the statistics.
                raise ValueError("no date (required with --history)")
            else:
                received = timezone.now()
            if row.kind and row.kind not in {"phishing", "malware"}:
                raise ValueError(f"unknown kind {row.kind!r}")
        except (InvalidURL, ValueError) as exc:
            stats.bad += 1
            message = f"{source} line {row.line}: {exc}"
            if len(stats.errors) < 1000:
                stats.errors.append(message)
            bad_reports.append(
                Report(
                    reporter=reporter,
                    channel="import",
                    purpose=purpose,
                    tlp=tlp,
                    raw_text=row.raw[:10000],
                    status=ReportStatus.REJECTED,
                    errors=[message],
                    dedupe_key=key,
                    subject=f"{source} line {row.line}",
                )
            )
            continue
        good.append((key, row, extracted, received))

    report_fields = [
        "reporter",
        "channel",
        "purpose",
        "tlp",
        "received",
        "subject",
        "raw_text",
        "status",
        "errors",
        "dedupe_key",
        "message_id",
        "url_sources",
    ]
    reporter_id = reporter.pk if reporter else None
    with transaction.atomic():
        if bad_reports:
            insert_rows(
                Report,
                report_fields,
                [
                    (
                        reporter_id,
                        r.channel,
                        r.purpose,
                        r.tlp,
                        timezone.now(),
                        r.subject,
                        r.raw_text,
                        r.status,
                        r.errors,
                        r.dedupe_key,
                        "",
                        {},
                    )
                    for r in bad_reports
                ],
            )
        if not good:
            return
        insert_rows(
            Report,
            report_fields,
            [
                (
                    reporter_id,
                    "import",
                    purpose,
                    tlp,
                    received,
                    f"{source} line {row.line}",
                    row.raw[:10000],
                    ReportStatus.ACCEPTED,
                    [],
                    key,
                    "",
                    {},
                )
                for key, row, _, received in good
            ],
        )
        report_ids = dict(
            Report.objects.filter(dedupe_key__in=[key for key, _, _, _ in good]).values_list(
                "dedupe_key", "pk"
            )
        )
        # One "report.received" per report, as for every other channel: the
        # statistics count reports from the timeline.
        insert_rows(
            Event,
            ["kind", "report", "actor", "at", "data", "from_state", "to_state", "message"],
            [
                (
                    EventKind.REPORT_RECEIVED,
                    report_ids[key],
                    "import",
                    received,
                    {"urls": 1},
                    "",
                    "",
                    "",
                )
                for key, _, _, received in good
            ],
        )
        sites = sites_create_bulk(
            [
                {
                    "url": e.url,
                    "host": e.host,
                    "registered_domain": e.registered_domain,
                    "kind": row.kind or "phishing",
                    "brand": row.brand.strip(),
                    "first_reported": received,
                    "report": report_ids[key],
                }
                for key, row, e, received in good
            ],
            actor="import",
            historical=historical,
        )
        through = Report.sites.through
        links = {(report_ids[key], sites[e.url].pk) for key, _, e, _ in good}
        insert_rows(through, ["report", "site"], sorted(links))
        # A new site's "site.reported" event names its first report; later
        # reports of the same URL get their own event on the site's timeline.
        first_report: dict[str, int] = {}
        for key, _, e, _ in good:
            first_report.setdefault(e.url, report_ids[key])
        insert_rows(
            Event,
            ["kind", "site", "report", "actor", "at", "data", "from_state", "to_state", "message"],
            [
                (
                    EventKind.SITE_REREPORTED,
                    sites[e.url].pk,
                    report_ids[key],
                    "import",
                    received,
                    {"report": report_ids[key], "channel": "import"},
                    "",
                    "",
                    "",
                )
                for key, _, e, received in good
                if e.url not in sites.new or first_report[e.url] != report_ids[key]
            ],
        )
        # New sites got their locate step (unless historical) from sites_create_bulk.
        stats.imported += len(good)
        stats.new_sites += len(sites.new)
