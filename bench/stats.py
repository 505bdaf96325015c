"""Benchmark: the statistics over a large generated history.

Generates N sites with about five timeline events each (report received, site
reported, located, notice sent, replies, confirmed down, reporter told) spread
over five fiscal years, then times each statistics query and the whole
computation.  Beside them it prints two peers measured in the same run on the
same data: a full scan of the events table (the floor any approach over the
timeline pays once) and the naive way, fetching the notice and down events
into Python and computing the closure table there.

    .venv/bin/python bench/stats.py                 # 100,000 sites, SQLite in a temp dir
    .venv/bin/python bench/stats.py --full          # 1,000,000 sites / ~5,000,000 events
    DATABASE_URL=postgres://... .venv/bin/python bench/stats.py --full   # PostgreSQL

On PostgreSQL the database must be empty (the bench creates its tables with
migrate and refuses to fill a database that already has sites) unless
``--reuse`` is given, which times an existing database without generating.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=100_000)
    parser.add_argument("--full", action="store_true", help="1,000,000 sites (~5M events)")
    parser.add_argument("--orgs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reuse", action="store_true", help="time an existing database")
    parser.add_argument("--no-peer", action="store_true", help="skip the naive Python peer")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file")
    args = parser.parse_args()
    if args.full:
        args.sites = 1_000_000
    return args


def setup_django(args: argparse.Namespace) -> str | None:
    tmp = None
    if args.reuse and os.environ.get("TAKEDOWN_DATA_DIR"):
        pass  # time the SQLite database found there (or DATABASE_URL's)
    elif not os.environ.get("TAKEDOWN_DATA_DIR"):
        # The SQLite database, or with DATABASE_URL only the secret key and queue file.
        tmp = tempfile.mkdtemp(prefix="takedown-bench-stats-")
        os.environ["TAKEDOWN_DATA_DIR"] = tmp
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "takedown.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return tmp


# --- generation ---------------------------------------------------------------------

KINDS = ["isp"] * 6 + ["company"] * 2 + ["school", "other"]
COUNTRIES = ["JP"] * 6 + ["US", "CN", "DE", "RU", "NL", "SG", "KR", "FR"]
REPORTER_KINDS = ["csirt", "security_vendor", "financial", "ecommerce", "other"]
BRANDS = [f"Brand {i:03d}" for i in range(300)]


class Writer:
    """Bulk rows into a model's table: executemany on SQLite, COPY on PostgreSQL.

    Columns the bench does not set get the field's default, so fields other
    apps add to these models later do not break the bench.
    """

    def __init__(self, model: Any, columns: list[str]) -> None:
        from django.db import connection

        self.connection = connection
        self.table = model._meta.db_table
        self.pg = connection.vendor == "postgresql"
        extra = [
            f for f in model._meta.concrete_fields if f.column not in columns and not f.primary_key
        ]
        self.columns = columns + [f.column for f in extra]
        self.tail = tuple(self._default(f) for f in extra)
        self.rows: list[tuple[Any, ...]] = []
        self.count = 0

    def _default(self, field: Any) -> Any:
        import json

        from django.db import models
        from django.utils import timezone

        if not field.has_default():
            return None if field.null else ""
        value = field.get_default()
        if isinstance(field, models.JSONField):
            return json.dumps(value)
        if isinstance(value, datetime):
            value = timezone.now()
            return value if self.pg else str(value.replace(tzinfo=None))
        return value

    def add(self, row: tuple[Any, ...]) -> None:
        self.rows.append(row + self.tail)
        if len(self.rows) >= 50_000:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        with self.connection.cursor() as cursor:
            if self.pg:
                cols = ", ".join(self.columns)
                with cursor.cursor.copy(f"COPY {self.table} ({cols}) FROM STDIN") as copy:
                    for row in self.rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(self.columns))
                cursor.executemany(
                    f"INSERT INTO {self.table} ({', '.join(self.columns)}) VALUES ({marks})",  # noqa: S608
                    self.rows,
                )
        self.count += len(self.rows)
        self.rows = []


def generate(args: argparse.Namespace) -> dict[str, int]:
    from django.db import connection, transaction

    rnd = random.Random(args.seed)
    pg = connection.vendor == "postgresql"
    epoch = datetime(1970, 1, 1, tzinfo=UTC)

    def ts(seconds: float) -> str:
        # Naive UTC text, the form Django stores datetimes in on SQLite.
        text = str((epoch + timedelta(seconds=seconds)).replace(tzinfo=None))
        return text + "+00" if pg else text

    now = datetime.now(UTC).timestamp()
    span = 5 * 365 * 86400
    start = now - span
    if not pg:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")

    with transaction.atomic():
        from takedown.cases.models import Event, Site
        from takedown.intake.models import Report, Reporter
        from takedown.locate.models import Organization

        Organization.objects.bulk_create(
            Organization(name=f"Org {i:05d}", country=rnd.choice(COUNTRIES), kind=rnd.choice(KINDS))
            for i in range(args.orgs)
        )
        orgs = list(Organization.objects.order_by("id").values_list("id", flat=True))
        Reporter.objects.bulk_create(
            Reporter(
                name=f"Reporter {i}",
                email=f"r{i}@example.net",
                kind=REPORTER_KINDS[i % 5],
                country="JP" if i % 3 else "US",
            )
            for i in range(50)
        )
        reporters = list(Reporter.objects.order_by("id").values_list("id", flat=True))
        site_base = Site.objects.order_by("-id").values_list("id", flat=True).first() or 0
        report_base = Report.objects.order_by("-id").values_list("id", flat=True).first() or 0

        # Sizes are skewed like real networks: a few organisations hold many sites.
        weights = [1.0 / (i + 1) ** 0.8 for i in range(len(orgs))]
        org_pick = rnd.choices(orgs, weights=weights, k=args.sites)
        sites = Writer(
            Site,
            [
                "id", "url", "host", "registered_domain", "kind", "brand", "state",
                "state_changed", "first_reported", "created", "historical", "ip",
                "organization_id",
            ],
        )  # fmt: skip
        reports = Writer(
            Report,
            [
                "id", "reporter_id", "channel", "purpose", "tlp", "received", "subject",
                "raw_text", "status", "errors", "message_id",
            ],
        )  # fmt: skip
        events = Writer(
            Event,
            [
                "at", "kind", "site_id", "report_id", "organization_id", "from_state",
                "to_state", "actor", "message", "data",
            ],
        )  # fmt: skip
        notice_id = 0
        pending: dict[int, list[float]] = {}
        for i in range(args.sites):
            sid = site_base + i + 1
            rid = report_base + i + 1
            t0 = start + rnd.random() * span
            org = org_pick[i]
            host = f"h{sid}.phish.example"
            located = rnd.random() < 0.95
            notified = located and rnd.random() < 0.84
            down_at = None
            state = "reported"
            if located:
                state = "located"
            tn = t0 + rnd.uniform(600, 86400)
            # Nothing is recorded in the future: "all time" then holds every row.
            notified = notified and tn < now
            if notified:
                state = "notified"
                if rnd.random() < 0.85:
                    down_at = tn + rnd.lognormvariate(10.2, 1.6)  # median ~7.5 hours
                    if down_at < now:
                        state = "down"
                    else:
                        down_at = None
            ip = f"10.{(org >> 8) & 255}.{org & 255}.{rnd.randrange(1, 40)}" if located else None
            sites.add(
                (
                    sid, f"http://{host}/login", host, "phish.example", "phishing",
                    rnd.choice(BRANDS), state, ts(down_at or tn), ts(t0), ts(t0), False, ip,
                    org if located else None,
                )
            )  # fmt: skip
            reports.add(
                (
                    rid, rnd.choice(reporters), "api", "request", "amber", ts(t0), "", host,
                    "accepted", "[]", "",
                )
            )  # fmt: skip
            events.add((ts(t0), "report.received", None, rid, None, "", "", "bench", "", "{}"))
            events.add(
                (ts(t0), "site.reported", sid, None, None, "", "reported", "bench", "", "{}")
            )
            if located:
                at = ts(t0 + 30)
                events.add(
                    (at, "locate.done", sid, None, org, "reported", "located", "bench", "", "{}")
                )
            if notified:
                # Sites of one organisation noticed close together share a notice.
                batch = pending.get(org)
                if batch is None or len(batch) >= 3:
                    notice_id += 1
                    batch = pending[org] = []
                    if rnd.random() < 0.6 and tn + 7200 < now:
                        events.add(
                            (ts(tn + 7200), "notice.replied", None, None, org, "", "", "bench", "",
                             f'{{"notice": {notice_id}, "human": true}}')
                        )  # fmt: skip
                batch.append(tn)
                events.add(
                    (ts(tn), "notice.sent", sid, None, org, "located", "notified", "bench", "",
                     f'{{"notice": {notice_id}, "followup": 0}}')
                )  # fmt: skip
            if down_at is not None:
                events.add(
                    (
                        ts(down_at),
                        "site.down",
                        sid,
                        None,
                        None,
                        "notified",
                        "down",
                        "bench",
                        "",
                        "{}",
                    )
                )
                told = down_at + rnd.lognormvariate(7.5, 1.0)
                if rnd.random() < 0.6 and told < now:
                    at = ts(told)
                    events.add(
                        (at, "reporter.closed_sent", sid, None, None, "", "", "bench", "", "{}")
                    )
        for writer in (sites, reports, events):
            writer.flush()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        if not pg:
            # Fold the write-ahead log back into the database: reads through a
            # log of gigabytes are several times slower than in steady state.
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"sites": sites.count, "reports": reports.count, "events": events.count}


# --- timing -------------------------------------------------------------------------


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t, result


def naive_closure() -> int:
    """The peer: fetch notice and down events, compute first notice -> first down in Python."""
    from takedown.cases.models import Event

    first_notice: dict[Any, tuple[datetime, Any]] = {}
    downs: dict[Any, list[datetime]] = {}
    for site_id, at, org in (
        Event.objects.filter(kind="notice.sent")
        .values_list("site_id", "at", "organization_id")
        .iterator(chunk_size=20000)
    ):
        if site_id not in first_notice or at < first_notice[site_id][0]:
            first_notice[site_id] = (at, org)
    for down_site, down_at in (
        Event.objects.filter(kind="site.down")
        .values_list("site_id", "at")
        .iterator(chunk_size=20000)
    ):
        downs.setdefault(down_site, []).append(down_at)
    per_org: dict[int | None, list[float]] = {}
    for site_id, (t0, org) in first_notice.items():
        after = [d for d in downs.get(site_id, []) if d >= t0]
        if after:
            per_org.setdefault(org, []).append((min(after) - t0).total_seconds())
    return len(per_org)


def main() -> None:
    args = parse_args()
    tmp = setup_django(args)
    from django.db import connection

    from takedown.cases.models import Event, Site
    from takedown.stats import selectors

    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")  # fmt: skip
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            version = f"PostgreSQL {cursor.fetchone()[0]}"
        else:
            cursor.execute("SELECT sqlite_version()")
            version = f"SQLite {cursor.fetchone()[0]}"
    print(f"database: {version}")

    if not args.reuse:
        if Site.objects.exists():
            raise SystemExit("the database already has sites; use --reuse to time it as it is")
        seconds, counts = timed(generate, args)
        print(
            f"generated {counts['sites']:,} sites, {counts['reports']:,} reports, "
            f"{counts['events']:,} events in {seconds:.1f} s"
        )
    else:
        print(f"existing data: {Site.objects.count():,} sites, {Event.objects.count():,} events")

    period = selectors.period_all()
    fy = selectors.stats_period(fy=selectors.fiscal_years_in(period)[-2].fiscal_year)
    rows = []
    for name in (
        "_reports",
        "_sites",
        "_brands",
        "_recurrence",
        "_closure_rows",
        "_notice_rows",
        "_feedback",
    ):
        seconds, _ = timed(getattr(selectors, name), period)
        rows.append((name.strip("_"), seconds))
    for label, seconds in rows:
        print(f"  {label:<16} {seconds:7.2f} s")
    total, stats = timed(selectors.stats_compute, period)
    print(f"stats, all time ({len(stats.organizations):,} organisations): {total:.2f} s")
    total_fy, _ = timed(selectors.stats_compute, fy)
    print(f"stats, {fy.key}: {total_fy:.2f} s")

    def scan() -> Any:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*), SUM(LENGTH(kind)) FROM cases_event")
            return cursor.fetchone()

    seconds, _ = timed(scan)
    print(f"peer: one full scan of the events table: {seconds:.2f} s")
    if not args.no_peer:
        seconds, _ = timed(naive_closure)
        print(f"peer: closure per organisation in Python from fetched events: {seconds:.2f} s")
    keep = args.keep and not os.environ.get("DATABASE_URL")
    if tmp and not keep:
        import shutil

        connection.close()
        shutil.rmtree(tmp, ignore_errors=True)
    elif tmp:
        print(f"kept {tmp}")


if __name__ == "__main__":
    main()
