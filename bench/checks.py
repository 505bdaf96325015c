"""Benchmark: the monitor's checks per second, beside curl on the same URLs, in the same run.

1. A farm fast enough not to be measured (``bench/farm.py``): Debian's nginx
   serving N sites (default 20,000) on 200 loopback addresses, and unbound
   naming every site (TTL 300 s, as phishing hosts commonly have).
2. A fresh service database (SQLite in a temporary directory, or
   ``DATABASE_URL``'s PostgreSQL, emptied first) with N located sites due.
3. The monitor of the production path (``Monitor.run_round`` until nothing is
   due, default settings but the batch and no screenshots), everything
   recorded: pass 1 is the first check of every site (Check, Evidence, the
   hand-off to notices); then ``--passes`` re-check passes (the steady state:
   an unchanged up page, recorded as one more check of the site's run).
4. The peer: ``curl --parallel --parallel-max 200`` over the same URLs (a
   ``connect-to`` per URL, so curl does no DNS), before and after the monitor.
5. Two monitor processes (``takedown monitor --once``) sharing a re-check pass
   by their claims, beside one.

Prints checks/s, CPU ms per check (this process's CPU over the pass: the
fetch thread and the recording) and the ratios; medians over the passes.

    .venv/bin/python bench/checks.py [--sites 20000] [--passes 3] [--processes 2]
    DATABASE_URL=postgres://postgres@127.0.0.1:PORT/bench .venv/bin/python bench/checks.py
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from farm import Farm, machine  # noqa: E402


def setup_django(data_dir: Path, farm_env: dict[str, str], batch: int) -> str:
    os.environ.update(farm_env)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "takedown.settings",
            "TAKEDOWN_DATA_DIR": str(data_dir),
            "TAKEDOWN_SCREENSHOTS": "0",
            "TAKEDOWN_MONITOR_BATCH": str(batch),
            "TAKEDOWN_CHECK_INTERVAL": "3600",
            "TAKEDOWN_LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    if connection.vendor == "postgresql":
        call_command("flush", interactive=False, verbosity=0)
    return connection.vendor


def create_sites(urls: Iterable[tuple[str, str]], state: str = "located") -> None:
    """Insert the sites in chunks (setup, not measured)."""
    from django.utils import timezone

    from takedown.cases.models import Site

    now = timezone.now()
    chunk: list[Site] = []
    for url, ip in urls:
        host = url.split("/")[2]
        chunk.append(
            Site(
                url=url,
                host=host,
                registered_domain=".".join(host.split(".")[-2:]),
                state=state,
                ip=ip,
                next_check=now,
                brand="Bench Bank",
            )
        )
        if len(chunk) >= 2000:
            Site.objects.bulk_create(chunk)
            chunk = []
    if chunk:
        Site.objects.bulk_create(chunk)


def run_monitor(monitor: Any) -> tuple[int, float, float]:
    """One pass: rounds until nothing is due; (checks, seconds, CPU seconds of this process).

    The same Monitor for every pass, as one long-lived ``takedown monitor``
    process: its fetcher (and the DNS answers it holds within their TTL) stays.
    """
    before = monitor.checks_recorded
    started, cpu = time.perf_counter(), time.process_time()
    while monitor.run_round():
        pass
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return monitor.checks_recorded - before, elapsed, cpu


def checks_recorded() -> int:
    """Checks recorded so far (a run of equal checks counts each of its checks)."""
    from django.db.models import Sum

    from takedown.monitor.models import Check

    if hasattr(Check, "count"):
        return int(Check.objects.aggregate(n=Sum("count"))["n"] or 0)
    return Check.objects.count()


def run_monitor_processes(count: int) -> tuple[int, float]:
    """``takedown monitor --once`` in ``count`` processes at once, sharing the work by claims."""
    before = checks_recorded()
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "takedown.cli", "monitor", "--once"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    for proc in procs:
        proc.wait()
    return checks_recorded() - before, time.perf_counter() - started


def run_curl(
    workdir: Path, urls: list[tuple[str, str]], http_port: int
) -> tuple[int, float, float]:
    """curl over the same URLs: (200 answers, seconds, CPU seconds of curl).

    Each URL is its own group (``next``) with its own ``connect-to``: curl
    applies every ``connect-to`` to every transfer, so one global list would
    make it quadratic.
    """
    config = workdir / "curl.conf"
    if not config.exists():
        groups = [
            f'url = "{url}"\noutput = "/dev/null"\n'
            f'connect-to = "{url.split("/")[2]}:80:{ip}:{http_port}"\n'
            'write-out = "%{http_code}\\n"'
            for url, ip in urls
        ]
        config.write_text("\nnext\n".join(groups) + "\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        ["curl", "--parallel", "--parallel-max", "200", "--silent", "-K", str(config)],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    ok = sum(1 for line in proc.stdout.splitlines() if line.strip() == "200")
    return ok, elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=20_000)
    parser.add_argument("--addresses", type=int, default=200)
    parser.add_argument("--passes", type=int, default=3, help="re-check passes (median)")
    parser.add_argument("--batch", type=int, default=2000, help="TAKEDOWN_MONITOR_BATCH")
    parser.add_argument("--processes", type=int, default=2, help="0: skip the multi-process pass")
    args = parser.parse_args()

    print(f"machine      : {machine()}")
    workdir = Path(tempfile.mkdtemp(prefix="bench-checks-"))
    with Farm(sites=args.sites, addresses=args.addresses) as farm:
        vendor = setup_django(workdir / "data", farm.env(), args.batch)
        print(
            f"farm         : nginx + unbound, {args.sites:,} sites on {args.addresses} "
            f"addresses, DNS TTL {farm.ttl} s; database {vendor}"
        )
        create_sites(farm.urls)
        from django.utils import timezone

        from takedown.cases.models import Site
        from takedown.monitor.runner import Monitor

        curl = [run_curl(workdir, farm.urls, farm.http_port)]
        with Monitor() as monitor:
            n1, t1, c1 = run_monitor(monitor)
            rechecks = []
            for _ in range(args.passes):
                Site.objects.update(next_check=timezone.now())
                rechecks.append(run_monitor(monitor))
        curl.append(run_curl(workdir, farm.urls, farm.http_port))
        curl_rate = statistics.median(ok / t for ok, t, _ in curl)
        curl_cpu = statistics.median(cpu / max(ok, 1) for ok, _, cpu in curl) * 1000
        r1 = n1 / t1
        r2 = statistics.median(n / t for n, t, _ in rechecks)
        cpu2 = statistics.median(c / max(n, 1) for n, _, c in rechecks) * 1000
        print(
            f"monitor 1st  : {n1:,} first checks in {t1:.2f} s = {r1:,.0f} checks/s, "
            f"{c1 / max(n1, 1) * 1000:.2f} ms CPU per check (Check + Evidence, hand-off to notices)"
        )
        print(
            f"monitor again: {args.passes} passes of {rechecks[0][0]:,} re-checks, median "
            f"{r2:,.0f} checks/s ({', '.join(f'{n / t:,.0f}' for n, t, _ in rechecks)}), "
            f"{cpu2:.2f} ms CPU per check (every check recorded)"
        )
        print(
            f"curl (peer)  : {', '.join(f'{ok:,} x 200 in {t:.2f} s' for ok, t, _ in curl)}; "
            f"median {curl_rate:,.0f} req/s, {curl_cpu:.2f} ms CPU per request "
            "(--parallel --parallel-max 200, no DNS)"
        )
        print(
            f"ratio        : re-checks {r2 / curl_rate:.2f} x curl, "
            f"first checks {r1 / curl_rate:.2f} x curl"
        )
        if args.processes > 1:
            Site.objects.update(next_check=timezone.now())
            n3, t3 = run_monitor_processes(1)
            Site.objects.update(next_check=timezone.now())
            n4, t4 = run_monitor_processes(args.processes)
            print(
                f"processes    : 1 monitor process {n3 / t3:,.0f} checks/s, {args.processes} "
                f"processes {n4 / t4:,.0f} checks/s = {n4 / t4 / (n3 / t3):.2f} x one "
                f"({n4:,} re-checks; process start included)"
            )


if __name__ == "__main__":
    main()
