"""Benchmark: locating 10,000 URLs spread over 100 networks, against the sandbox.

Runs the sandbox (``takedown.sandbox``) on a generated scenario: 100 networks of
100 organisations in six registry styles (RIPE, APNIC with IRTs, ARIN with
linked-only POCs, AFRINIC with abuse remarks, JPNIC blocks behind APNIC's RDAP,
and JPNIC blocks with WHOIS only), 100 URLs on distinct hosts in each.  LACNIC is
left out: its default limit of 10 queries a minute would make the run minutes
long by design.

Prints, for the locator (DNS + registries + classification, no database):
- cold: every cache empty; URLs/second and the registry queries by kind;
- warm (memory): the same URLs again in the same process;
- warm (database): a new locator with only the database cache;
and the full background step (``sites_locate``: resolutions, locations, the
directory, the state changes on the timeline) for all 10,000 sites, cold.

Peers measured in the same run: DNS alone for the same hosts (the floor for any
locator), and a naive locator that asks RDAP once per URL with no cache or
coalescing, on a sample.

    .venv/bin/python bench/locate.py [--networks 100] [--urls 10000] [--naive-sample 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

STYLES = (
    ("ripe", True, "overseas", "DE"),
    ("apnic", True, "isp", "JP"),
    ("arin", True, "overseas", "US"),
    ("afrinic", True, "overseas", "ZA"),
    ("jpnic", True, "isp", "JP"),
    ("jpnic", False, "company", "JP"),
)


def machine() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return (
        f"{platform.node()} {platform.machine()} {os.cpu_count()} cpus, "
        f"load {tuple(round(x, 2) for x in load)}, Python {platform.python_version()}, "
        f"{platform.platform()}"
    )


def fmt_queries(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    parts = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    return f"{total} ({parts})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", type=int, default=100)
    parser.add_argument("--urls", type=int, default=10_000)
    parser.add_argument("--naive-sample", type=int, default=300)
    parser.add_argument("--skip-db", action="store_true", help="skip the sites_locate run")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the sandbox in this process (its servers then share the GIL with the locator)",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="takedown-bench-locate-"))
    os.environ["TAKEDOWN_DATA_DIR"] = str(work / "data")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "takedown.settings")
    os.environ["TAKEDOWN_LOG_LEVEL"] = "WARNING"

    import yaml

    from takedown.locate.tests.worlds import bulk_scenario
    from takedown.sandbox.scenario import scenario_from_dict
    from takedown.sandbox.testing import start_sandbox_process

    # 25 addresses per network: the sandbox's farm opens two listeners per
    # address, and 10,000 addresses would exceed the open-files limit.
    raw = bulk_scenario(args.networks, args.urls, styles=STYLES, ips_per_network=25)
    scenario = scenario_from_dict(raw)
    if args.in_process:
        from takedown.sandbox.core import Sandbox

        with Sandbox(scenario) as sb:
            os.environ.update(sb.env())
            setup_django()
            run(scenario, args, sb)
        return
    # The sandbox in its own process, as a real resolver and registries would be.
    path = work / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw))
    # Sites' names with a real-world TTL (the sandbox's default, 1 s, suits
    # takedowns in tests): "warm" is the same hosts again within it.
    child_env = {
        **os.environ,
        "TAKEDOWN_DATA_DIR": str(work / "sandbox-data"),
        "TAKEDOWN_SANDBOX_SITE_TTL": "300",
    }
    child_env.pop("DJANGO_SETTINGS_MODULE", None)
    child, sandbox_env = start_sandbox_process(path, env=child_env, workdir=work, timeout=600)
    try:
        os.environ.update(sandbox_env)
        setup_django()
        run(scenario, args, None)
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()


def setup_django() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def run(scenario: object, args: argparse.Namespace, sb: object | None) -> None:
    from takedown.cases.services import sites_create_bulk
    from takedown.intake.extract import normalise_url
    from takedown.locate.engine import Locator, clear_caches
    from takedown.locate.resolver import make_resolver, resolve_host
    from takedown.locate.services import locate_hosts, sites_locate

    sites = scenario.sites  # type: ignore[attr-defined]
    targets = [normalise_url(s.url) for s in sites]
    hosts = {t.host: t.registered_domain for t in targets}
    n = len(hosts)
    print(f"machine: {machine()}")
    print(
        f"scenario: {len(targets)} URLs, {n} hosts, {args.networks} networks, "
        f"{len({t.registered_domain for t in targets})} registered domains"
    )

    # Peer 1: DNS alone, the floor.
    async def dns_only() -> int:
        resolver = make_resolver()
        sem = asyncio.Semaphore(64)

        async def one(h: str) -> bool:
            async with sem:
                return (await resolve_host(resolver, h)).ok

        return sum(await asyncio.gather(*(one(h) for h in hosts)))

    t, cpu = time.perf_counter(), time.process_time()
    ok = asyncio.run(dns_only())
    dns_s, dns_cpu = time.perf_counter() - t, time.process_time() - cpu
    print(
        f"peer  DNS only (the stub resolver, cold, concurrency 64): {n / dns_s:8.0f} hosts/s "
        f"({dns_s:.2f} s, {dns_cpu:.2f} s CPU here, {ok} resolved)"
    )

    # Cold.
    clear_caches()
    t = time.perf_counter()
    cold = locate_hosts(hosts)
    cold_s = time.perf_counter() - t
    located = sum(r.outcome == "located" for r in cold.results.values())
    per_net = cold.queries.get("rdap-ip", 0) / args.networks
    print(f"cold  locator: {n / cold_s:8.0f} URLs/s ({cold_s:.2f} s, {located}/{n} located)")
    print(f"      registry queries: {fmt_queries(cold.queries)}")
    print(
        f"      RDAP network queries per network: {per_net:.2f}; "
        f"WHOIS network queries: {cold.queries.get('whois-ip', 0)} "
        f"for {sum(1 for j in range(args.networks) if not STYLES[j % len(STYLES)][1])} "
        f"WHOIS-only networks"
    )

    # Warm, memory cache (same process, same locator caches).
    t = time.perf_counter()
    warm = locate_hosts(hosts)
    warm_s = time.perf_counter() - t
    # The part a warm cache speeds up: everything after DNS (AS table, cache,
    # registries, registrar, CDN, classification), given the DNS answers.
    phase = Locator()
    answers = asyncio.run(phase.resolve(list(hosts)))
    t = time.perf_counter()
    asyncio.run(phase.locate(answers, hosts))
    reg_s = time.perf_counter() - t
    print(
        f"warm  locator, memory cache: {n / warm_s:8.0f} URLs/s ({warm_s:.2f} s; after DNS, the "
        f"registry step alone {n / reg_s:.0f} URLs/s), "
        f"queries {fmt_queries(warm.queries)}"
    )

    # Warm from the database only (what a fresh worker process sees).
    from takedown.locate.services import record_run

    record_run(cold)
    clear_caches()
    t = time.perf_counter()
    dbwarm = locate_hosts(hosts, locator=Locator())
    db_s = time.perf_counter() - t
    print(
        f"warm  locator, database cache only: {n / db_s:8.0f} URLs/s ({db_s:.2f} s), "
        f"queries {fmt_queries(dbwarm.queries)}"
    )

    # Peer 2: naive, the registries asked for every URL, nothing cached or shared.
    sample = list(hosts)[: args.naive_sample]
    t = time.perf_counter()
    naive_queries = 0
    for h in sample:
        clear_caches()
        naive = Locator()
        dns = asyncio.run(naive.resolve([h]))
        asyncio.run(naive.locate(dns, {h: hosts[h]}))
        naive_queries += naive.counters.total - naive.counters.counts["bootstrap"]
    naive_s = time.perf_counter() - t
    print(
        f"peer  naive per-URL lookups (no cache, no coalescing), {len(sample)} URLs: "
        f"{len(sample) / naive_s:8.0f} URLs/s, {naive_queries} queries "
        f"(~{naive_queries / len(sample) * n:.0f} for all {n})"
    )

    if args.skip_db:
        return
    clear_caches()
    from takedown.locate.models import DomainRecord, Network

    Network.objects.all().delete()
    DomainRecord.objects.all().delete()
    rows = [
        {"url": t.url, "host": t.host, "registered_domain": t.registered_domain} for t in targets
    ]
    by_url = sites_create_bulk(rows)
    ids = [s.pk for s in by_url.values()]
    t = time.perf_counter()
    done = 0
    batch = 500
    for i in range(0, len(ids), batch):
        done += len(sites_locate(ids[i : i + batch])["located"])
    full_s = time.perf_counter() - t
    print(
        f"cold  sites_locate (task incl. database writes, batches of {batch}): "
        f"{len(ids) / full_s:8.0f} sites/s ({full_s:.2f} s, {done} located)"
    )
    if sb is not None:
        rdap, whois = sb.rdap_queries, sb.whois_queries  # type: ignore[attr-defined]
        print(f"sandbox registry counters: RDAP {dict(rdap)}; WHOIS {dict(whois)}")


if __name__ == "__main__":
    main()
