"""Benchmark: DNS look-ups per second and CPU per look-up, four ways, against one unbound.

The monitor and locate resolve every site's host name; at thousands of checks
a second the stub resolver's own CPU matters.  Measured in the same run, cold
(every name asked once, concurrency 200) against Debian's unbound answering
from ``local-data`` (``bench/farm.py``):

- ``takedown.lib.dnsstub``: our wire codec over long-lived UDP sockets (the path);
- dnspython's message codec over the same sockets (the fetcher's path before);
- dnspython's async stub resolver (locate's path before);
- aiodns 4 (c-ares through pycares): the C library most asyncio code uses.

Then the cache: the same names again through ``dnsstub`` within their TTL.

    .venv/bin/python bench/resolvers.py [--names 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from farm import Farm, machine  # noqa: E402


async def run(hosts: list[str], one: Callable[[str], Awaitable[bool]]) -> tuple[int, float, float]:
    sem = asyncio.Semaphore(200)

    async def guarded(h: str) -> bool:
        async with sem:
            return await one(h)

    started, cpu = time.perf_counter(), time.process_time()
    ok = sum(await asyncio.gather(*(guarded(h) for h in hosts)))
    return ok, time.perf_counter() - started, time.process_time() - cpu


def report(label: str, n: int, ok: int, wall: float, cpu: float) -> None:
    print(
        f"{label:<44}: {n / wall:8,.0f} look-ups/s, "
        f"{cpu / n * 1e6:6.0f} us CPU each ({ok:,} answered)"
    )


async def main_async(hosts: list[str], port: int) -> None:
    from takedown.lib.dnsstub import StubResolver

    n = len(hosts)
    stub = StubResolver([("127.0.0.1", port)])

    async def ours(h: str) -> bool:
        return (await stub.addresses(h)).ok

    report("takedown dnsstub (own codec, UDP pool)", n, *await run(hosts, ours))
    report("  again, from its cache (TTL 300 s)", n, *await run(hosts, ours))
    stub.close()

    from takedown.lib.fetch import FetchPolicy, SafeResolver

    if hasattr(SafeResolver, "_query"):
        safe = SafeResolver(FetchPolicy(resolver=("127.0.0.1", port)))

        async def dnspython_codec(h: str) -> bool:
            try:
                return bool(await safe._query(h))
            except Exception:
                return False

        report("dnspython codec over the same UDP pool", n, *await run(hosts, dnspython_codec))
        await safe.close()

    import dns.asyncresolver

    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    resolver.lifetime = 5.0

    async def dnspython(h: str) -> bool:
        try:
            answer = await resolver.resolve(h, "A", search=False)
        except Exception:
            return False
        return answer.rrset is not None

    # A quarter of the names: it is the slowest by far.
    report("dnspython async stub resolver", n // 4, *await run(hosts[: n // 4], dnspython))

    try:
        import aiodns
    except ImportError:
        print("aiodns                                      : not installed (pip install aiodns)")
        return
    cares = aiodns.DNSResolver(nameservers=[f"127.0.0.1:{port}"], timeout=5.0, tries=2)

    async def c_ares(h: str) -> bool:
        try:
            result = await cares.query_dns(h, "A")
        except Exception:
            return False
        return bool(result.answer)

    report("aiodns 4 / pycares (c-ares)", n, *await run(hosts, c_ares))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", type=int, default=20_000)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with Farm(sites=args.names, addresses=200) as farm:
        hosts = [url.split("/")[2] for url, _ip in farm.urls]
        print(f"unbound: {len(hosts):,} names from local-data, cold for each client")
        asyncio.run(main_async(hosts, farm.dns_port))


if __name__ == "__main__":
    main()
