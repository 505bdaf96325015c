"""Benchmark: the monitor's checks per second against the sandbox farm, beside curl.

1. A scenario of N phishing sites (default 20,000) on 200 loopback addresses,
   each on its own host name; the sandbox runs it in a separate process
   (``takedown sandbox up``), so the farm does not share this process's GIL.
2. A fresh SQLite service (temporary data directory) with N located sites due.
3. The monitor (``Monitor.run_round`` until nothing is due) checks them all,
   with everything recorded: pass 1 is the first check of each site (Check
   rows, evidence with the page, the hand-off to notices); pass 2 checks them
   all again (Check rows, counters, schedule): the steady state.
4. The peer, in the same run: ``curl --parallel --parallel-max 200`` over the
   same URLs (config file with a ``url =`` and a ``connect-to`` per URL, since
   curl cannot use the sandbox's DNS; our checker asks the sandbox's DNS for
   every name).
5. Memory: a separate process schedules 100,000 sites and runs the monitor over
   all of them; it reports its peak RSS (``ru_maxrss``) and the tracemalloc peak
   of one round.

    .venv/bin/python bench/checks.py [--sites 20000] [--memory-sites 100000]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def machine() -> str:
    return (
        f"{platform.node()} {platform.machine()} {platform.processor() or ''} "
        f"{os.cpu_count()} cpus, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def scenario(n: int, addresses: int) -> dict[str, object]:
    return {
        "name": "bench-checks",
        "duration": 3600,
        "organizations": [
            {
                "id": "bench-net",
                "name": "Bench Net",
                "country": "JP",
                "kind": "isp",
                "registry": "apnic",
                "networks": ["127.90.0.0/16"],
                "asn": 64999,
                "abuse_email": "abuse@bench.example",
            }
        ],
        "sites": [
            {
                "id": f"s{i}",
                "url": f"http://login{i}.bank{i % 97}.example/p/{i}/",
                "ip": f"127.90.{(i % addresses) // 250}.{(i % addresses) % 250 + 1}",
                "brand": f"Bank {i % 97}",
            }
            for i in range(n)
        ],
    }


def start_sandbox(
    workdir: Path, spec: dict[str, object]
) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    from takedown.sandbox.testing import start_sandbox_process

    path = workdir / "bench.yaml"
    path.write_text(yaml.safe_dump(spec))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    return start_sandbox_process(path, env=env, workdir=workdir)


def setup_django(data_dir: Path, sandbox_env: dict[str, str]) -> None:
    os.environ.update(sandbox_env)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "takedown.settings",
            "TAKEDOWN_DATA_DIR": str(data_dir),
            "TAKEDOWN_SCREENSHOTS": "0",
            "TAKEDOWN_MONITOR_BATCH": "2000",
            "TAKEDOWN_MONITOR_CONCURRENCY": "200",
            "TAKEDOWN_CHECK_INTERVAL": "3600",
            "TAKEDOWN_LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def create_sites(urls: Iterable[tuple[str, str]], state: str = "located") -> None:
    """Insert the sites in chunks, so the benchmark's own setup stays small in memory."""
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
                brand="Bank",
            )
        )
        if len(chunk) >= 2000:
            Site.objects.bulk_create(chunk)
            chunk = []
    if chunk:
        Site.objects.bulk_create(chunk)


def run_monitor() -> tuple[int, float]:
    from takedown.monitor.runner import Monitor

    with Monitor() as monitor:
        started = time.perf_counter()
        while monitor.run_round():
            pass
        return monitor.checks_recorded, time.perf_counter() - started


def run_monitor_processes(count: int) -> tuple[int, float]:
    """``takedown monitor --once`` in ``count`` processes at once, sharing the work by claims."""
    from takedown.monitor.models import Check

    before = Check.objects.count()
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
    return Check.objects.count() - before, time.perf_counter() - started


def run_curl(workdir: Path, urls: list[tuple[str, str]], http_port: int) -> tuple[int, float]:
    """curl over the same URLs, on the farm's port at each site's address.

    Each URL is its own group (``next``) with its own ``connect-to``: curl
    applies every ``resolve``/``connect-to`` option to every transfer, so one
    global list of 20,000 would make curl quadratic. curl does no DNS here (our
    checker asks the sandbox's DNS for every name).
    """
    config = workdir / "curl.conf"
    groups = [
        f'url = "{url}"\noutput = "/dev/null"\n'
        f'connect-to = "{url.split("/")[2]}:80:{ip}:{http_port}"\n'
        'write-out = "%{http_code}\\n"'
        for url, ip in urls
    ]
    config.write_text("\nnext\n".join(groups) + "\n")
    started = time.perf_counter()
    proc = subprocess.run(
        ["curl", "--parallel", "--parallel-max", "200", "--silent", "-K", str(config)],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    ok = sum(1 for line in proc.stdout.splitlines() if line.strip() == "200")
    return ok, elapsed


def current_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory_phase(n: int, addresses: int, farm_urls: int) -> None:
    """Child process: schedule ``n`` sites and check them all; print the peak memory."""
    import tracemalloc

    sandbox_env = dict(
        line.split("=", 1) for line in os.environ["BENCH_SANDBOX_ENV"].split("\n") if line
    )
    data = Path(tempfile.mkdtemp(prefix="bench-mem-"))
    setup_django(data, sandbox_env)
    spec = scenario(farm_urls, addresses)
    sites = spec["sites"]
    assert isinstance(sites, list)
    farm = [(str(s["url"]), str(s["ip"])) for s in sites]
    del spec, sites
    # Notified already: the memory phase measures the monitor, not the notices queue.
    create_sites(
        ((f"{farm[i % farm_urls][0]}?m={i}", farm[i % farm_urls][1]) for i in range(n)),
        state="notified",
    )
    del farm
    import gc

    gc.collect()
    base = current_rss_kib()
    from takedown.monitor.runner import Monitor

    started = time.perf_counter()
    with Monitor() as monitor:
        tracemalloc.start()
        monitor.run_round()
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        while monitor.run_round():
            pass
        checks = monitor.checks_recorded
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"memory       : {n:,} sites scheduled, {checks:,} checked in {elapsed:.1f} s; "
        f"peak RSS {peak / 1024:.0f} MiB (RSS before the monitor started {base / 1024:.0f} MiB); "
        f"tracemalloc peak of one 2,000-site round {traced_peak / 2**20:.1f} MiB"
    )


def throughput(
    workdir: Path, spec: dict[str, object], sandbox_env: dict[str, str], processes: int
) -> None:
    """Checks per second of the monitor, first checks and re-checks, beside curl."""
    setup_django(workdir / "data", sandbox_env)
    sites = spec["sites"]
    assert isinstance(sites, list)
    urls = [(str(s["url"]), str(s["ip"])) for s in sites]
    create_sites(urls)
    port = int(sandbox_env["TAKEDOWN_HTTP_PORT"])

    from django.utils import timezone

    from takedown.cases.models import Site
    from takedown.monitor.models import Check

    # curl before and after the monitor: the machine is shared, so the peer
    # is measured twice around our figures and averaged.
    ok_a, tc_a = run_curl(workdir, urls, port)
    n1, t1 = run_monitor()
    first_up = Check.objects.filter(outcome="up").count()
    Site.objects.update(next_check=timezone.now())
    n2, t2 = run_monitor()
    second_up = Check.objects.filter(outcome="up").count() - first_up
    ok_b, tc_b = run_curl(workdir, urls, port)
    r1, r2 = n1 / t1, n2 / t2
    rc = (ok_a / tc_a + ok_b / tc_b) / 2
    print(
        f"monitor 1st  : {n1:,} first checks in {t1:.2f} s = {r1:,.0f} checks/s "
        f"({first_up:,} up; Check + Evidence rows, hand-offs to notices)"
    )
    print(
        f"monitor 2nd  : {n2:,} re-checks in {t2:.2f} s = {r2:,.0f} checks/s "
        f"({second_up:,} up; Check rows, counters, schedule)"
    )
    print(
        f"curl (peer)  : {ok_a:,} x 200 in {tc_a:.2f} s, then {ok_b:,} x 200 in {tc_b:.2f} s "
        f"= {rc:,.0f} req/s on average (--parallel --parallel-max 200)"
    )
    print(f"ratio        : re-checks {r2 / rc:.2f} x curl, first checks {r1 / rc:.2f} x curl")
    if processes > 1:
        Site.objects.update(next_check=timezone.now())
        n3, t3 = run_monitor_processes(processes)
        print(
            f"monitor x{processes}  : {n3:,} re-checks by {processes} processes in {t3:.2f} s "
            f"= {n3 / t3:,.0f} checks/s = {n3 / t3 / rc:.2f} x curl (process start included)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=20000)
    parser.add_argument("--addresses", type=int, default=200)
    parser.add_argument("--memory-sites", type=int, default=100000)
    parser.add_argument(
        "--processes", type=int, default=2, help="also re-check with this many monitor processes"
    )
    parser.add_argument("--memory-only", action="store_true", help="skip the throughput part")
    parser.add_argument("--memory-phase", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_phase:
        memory_phase(args.memory_sites, args.addresses, args.sites)
        return

    print(machine())
    workdir = Path(tempfile.mkdtemp(prefix="bench-checks-"))
    spec = scenario(args.sites, args.addresses)
    t0 = time.perf_counter()
    sandbox, sandbox_env = start_sandbox(workdir, spec)
    try:
        up_in = time.perf_counter() - t0
        print(
            f"sandbox      : {args.sites:,} sites on {args.addresses} addresses, "
            f"up in {up_in:.1f} s"
        )
        if not args.memory_only:
            throughput(workdir, spec, sandbox_env, args.processes)
        env = dict(os.environ)
        env["BENCH_SANDBOX_ENV"] = "\n".join(f"{k}={v}" for k, v in sandbox_env.items())
        for key in list(env):
            if key.startswith("TAKEDOWN_"):
                del env[key]
        if args.memory_sites:
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--memory-phase",
                    "--memory-sites",
                    str(args.memory_sites),
                    "--sites",
                    str(args.sites),
                    "--addresses",
                    str(args.addresses),
                ],
                env=env,
                check=True,
            )
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)


if __name__ == "__main__":
    main()
