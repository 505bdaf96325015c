"""Benchmark: the sandbox's site farm under a checker's load.

Builds a scenario of N phishing sites (default 20,000) spread over 200 loopback
addresses, starts the sandbox, and fetches every URL once with an aiohttp client
(concurrency 200, Host header per site, connections kept alive), printing
requests/second. The peer, measured in the same run with the same client, is a
bare aiohttp server answering a fixed page on one address: the ceiling for an
aiohttp server on this machine, so the gap is the farm's own cost (routing by
Host and path, per-address sockets, the page).

    .venv/bin/python bench/sandbox_farm.py [--sites 20000] [--concurrency 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import threading
import time
from pathlib import Path

from aiohttp import ClientSession, TCPConnector, web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from takedown.sandbox.core import Sandbox
from takedown.sandbox.scenario import scenario_from_dict


def machine() -> str:
    cpus = os.cpu_count()
    return f"{platform.node()} {platform.machine()} {cpus} cpus, Python {platform.python_version()}"


def build(n: int, addresses: int) -> dict[str, object]:
    sites = [
        {
            "id": f"s{i}",
            "url": f"http://login{i}.bank{i % 97}.example/p/{i}/",
            "ip": f"127.90.{(i % addresses) // 250}.{(i % addresses) % 250 + 1}",
            "brand": f"Bank {i % 97}",
        }
        for i in range(n)
    ]
    return {
        "name": "bench",
        "duration": 600,
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
        "sites": sites,
    }


async def fetch_all(
    targets: list[tuple[str, int, str, str]], concurrency: int
) -> tuple[float, int]:
    queue: asyncio.Queue[tuple[str, int, str, str]] = asyncio.Queue()
    for t in targets:
        queue.put_nowait(t)
    ok = 0

    async def worker(session: ClientSession) -> None:
        nonlocal ok
        while not queue.empty():
            ip, port, host, path = queue.get_nowait()
            async with session.get(f"http://{ip}:{port}{path}", headers={"Host": host}) as resp:
                await resp.read()
                ok += resp.status == 200

    start = time.perf_counter()
    async with ClientSession(
        connector=TCPConnector(limit=concurrency, limit_per_host=0)
    ) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return time.perf_counter() - start, ok


def peer_server() -> tuple[int, threading.Event]:
    ready, stop = threading.Event(), threading.Event()
    port_box: list[int] = []
    page = b"<html><title>Bank | Login</title><form method=post></form></html>" * 8

    async def handle(request: web.Request) -> web.Response:
        return web.Response(body=page, content_type="text/html")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_box.append(int(runner.addresses[0][1]))
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await runner.cleanup()

    threading.Thread(target=lambda: asyncio.run(main()), daemon=True).start()
    ready.wait()
    return port_box[0], stop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=20000)
    parser.add_argument("--addresses", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()
    print(machine())
    t0 = time.perf_counter()
    scenario = scenario_from_dict(build(args.sites, args.addresses))
    with Sandbox(scenario) as sb:
        started = time.perf_counter() - t0
        targets = [
            (rt.site.ip, sb.http_port, rt.site.host, rt.site.path) for rt in sb.world.sites.values()
        ]
        elapsed, ok = asyncio.run(fetch_all(targets, args.concurrency))
    print(
        f"sandbox farm : {len(targets)} URLs on {args.addresses} addresses in {elapsed:.2f} s "
        f"= {len(targets) / elapsed:,.0f} req/s ({ok} x 200); scenario load + start {started:.2f} s"
    )
    port, stop = peer_server()
    peer_targets = [("127.0.0.1", port, "peer.example", f"/p/{i}/") for i in range(len(targets))]
    elapsed, ok = asyncio.run(fetch_all(peer_targets, args.concurrency))
    stop.set()
    print(
        f"bare aiohttp : {len(peer_targets)} URLs on 1 address in {elapsed:.2f} s "
        f"= {len(peer_targets) / elapsed:,.0f} req/s ({ok} x 200)  [peer]"
    )


if __name__ == "__main__":
    main()
