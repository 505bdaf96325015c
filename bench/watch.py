"""Benchmark: the monitor watching a large scheduled population; checks/s, CPU, RSS, bytes.

A population of ``--sites`` notified sites (default 20,000) on ``--hosts``
host names served by nginx and named by unbound (``bench/farm.py``), watched
by one long-lived monitor (the production path and settings; everything
recorded) for ``--passes`` rounds of checks of every site, as a 15-minute
cadence would have them.  Prints, for the monitor:

- checks/s and CPU ms per check over the re-check passes (medians);
- RSS: before the monitor started, and the peak while it checked;
- bytes of the Check table (with its indexes) per site per day at a
  15-minute cadence: the growth over the re-check passes, scaled to 96 checks
  a day, beside its peer measured in the same run, a row per check (the
  growth of the first pass, one row per site, times 96).

    .venv/bin/python bench/watch.py [--sites 20000] [--hosts 2000] [--passes 4]
    DATABASE_URL=postgres://... .venv/bin/python bench/watch.py
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from checks import create_sites, run_monitor, setup_django  # noqa: E402
from farm import Farm, machine  # noqa: E402

CADENCE = 900  # seconds between checks of a watched site: 96 a day


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def check_table_bytes() -> int:
    """The Check table and its indexes, in bytes (SQLite's dbstat, PostgreSQL's relation size)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_total_relation_size('monitor_check')")
        else:
            cursor.execute(
                "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name = 'monitor_check'"
                " OR name IN (SELECT name FROM sqlite_master WHERE tbl_name = 'monitor_check')"
            )
        return int(cursor.fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=20_000)
    parser.add_argument("--hosts", type=int, default=2_000)
    parser.add_argument("--passes", type=int, default=4, help="rounds over every site (>= 2)")
    args = parser.parse_args()
    print(f"machine      : {machine()}")
    with Farm(sites=args.hosts, addresses=200) as farm:
        vendor = setup_django(Path(tempfile.mkdtemp(prefix="bench-watch-")), farm.env(), 2000)
        urls = [
            (f"{farm.urls[i % args.hosts][0]}?m={i}", farm.urls[i % args.hosts][1])
            for i in range(args.sites)
        ]
        create_sites(urls, state="notified")
        del urls
        from django.db import connection, reset_queries
        from django.utils import timezone

        from takedown.cases.models import Site
        from takedown.monitor.runner import Monitor

        reset_queries()
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        base_rss = rss_kib()
        empty = check_table_bytes()
        passes = []
        sizes = [empty]
        with Monitor() as monitor:
            for _ in range(args.passes):
                Site.objects.update(next_check=timezone.now())
                passes.append(run_monitor(monitor))
                sizes.append(check_table_bytes())
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    first_n, first_t, first_cpu = passes[0]
    again = passes[1:]
    rate = statistics.median(n / t for n, t, _ in again)
    cpu = statistics.median(c / max(n, 1) for n, _, c in again) * 1000
    n = args.sites
    # A row per check: the first pass wrote one row per site (the peer, measured).
    per_check_row = (sizes[1] - sizes[0]) / n
    runs_growth = (sizes[-1] - sizes[1]) / n / len(again)  # bytes per site per check, as runs
    print(
        f"population   : {n:,} notified sites on {args.hosts:,} host names, database {vendor}; "
        f"{args.passes} passes"
    )
    print(
        f"first pass   : {first_n:,} checks in {first_t:.1f} s = {first_n / first_t:,.0f}/s, "
        f"{first_cpu / max(first_n, 1) * 1000:.2f} ms CPU per check"
    )
    print(
        f"re-checks    : median {rate:,.0f} checks/s over {len(again)} passes, "
        f"{cpu:.2f} ms CPU per check"
    )
    print(
        f"RSS          : {base_rss / 1024:.0f} MiB before the monitor started, "
        f"peak {peak / 1024:.0f} MiB while it checked {n:,} sites"
    )
    print(
        f"bytes/site/day: {runs_growth * 86400 / CADENCE:,.0f} as runs of equal checks "
        f"(table +{(sizes[-1] - sizes[1]) / 1024:,.0f} KiB over {len(again)} passes), "
        f"peer a row per check {per_check_row * 86400 / CADENCE:,.0f} "
        f"({per_check_row:.0f} bytes a row x 96); "
        f"1M sites: {runs_growth * 86400 / CADENCE * 1e6 / 2**30:.2f} GiB/day against "
        f"{per_check_row * 86400 / CADENCE * 1e6 / 2**30:.1f} GiB/day"
    )


if __name__ == "__main__":
    main()
