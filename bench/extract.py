"""Benchmark: URL extraction from JPCERT/CC's published phishing URL lists.

Builds one report-like text from every CSV under ../shared/data/jpcert-phishurl/
(~226,000 URLs, one per line: "date  URL  brand") and extracts the URLs with
``takedown.intake.extract.extract_urls`` and with the peer,
``iocextract.extract_urls(text, refang=True)``, on the same text in the same run.
Prints URLs/second for both (URLs in the text / median wall and CPU time), the ratio,
how many of the listed URLs each one found, and the machine.

    .venv/bin/python bench/extract.py [--repeat 3] [--limit N]

No Django needed. Caches are cleared before every repetition of ours, so each
run normalises every URL from scratch.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from takedown.intake import extract  # noqa: E402 - after the path tweak above

DATA = REPO.parent / "shared" / "data" / "jpcert-phishurl"


def machine() -> str:
    return (
        f"{platform.machine()} {os.cpu_count()} cpus, {platform.processor() or 'cpu ?'}, "
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.platform()}"
    )


def build_text(limit: int | None) -> tuple[str, list[str]]:
    lines: list[str] = []
    urls: list[str] = []
    for path in sorted(DATA.glob("*/*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                url = (row.get("URL") or "").strip()
                if not url:
                    continue
                urls.append(url)
                lines.append(f"{row.get('date', '')}  {url}  {row.get('description', '')}\n")
                if limit and len(urls) >= limit:
                    return "".join(lines), urls
    return "".join(lines), urls


def run_once(fn: Callable[[], list[object]]) -> tuple[float, float, list[object]]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def clear_caches() -> None:
    extract._from_candidate.cache_clear()
    extract.registered_domain.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--repeat", type=int, default=3, help="repetitions of each (median is reported)"
    )
    parser.add_argument("--limit", type=int, default=None, help="use only the first N URLs")
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"benchmark data not found: {DATA}")

    import iocextract

    text, listed = build_text(args.limit)
    print(f"machine: {machine()}")
    print(f"text: {len(text):,} characters, {len(listed):,} URLs listed, {args.repeat} repetitions")

    # Load the Public Suffix List snapshot and compile everything before timing.
    extract.extract_urls("http://warm.example.co.jp/")

    # Interleaved, so a machine shared with other work slows both alike; CPU
    # time (both are single-threaded) is reported beside wall time for the same
    # reason.
    ours_wall, ours_cpu, peer_wall, peer_cpu = [], [], [], []
    ours: list[object] = []
    peer: list[object] = []
    for _ in range(args.repeat):
        clear_caches()
        wall, cpu, ours = run_once(lambda: list(extract.extract_urls(text)))
        ours_wall.append(wall)
        ours_cpu.append(cpu)
        wall, cpu, peer = run_once(lambda: list(iocextract.extract_urls(text, refang=True)))
        peer_wall.append(wall)
        peer_cpu.append(cpu)

    # Recall: listed URLs each tool reports. Ours is compared after normalising
    # the listed URL the same way; iocextract's output is compared verbatim.
    expected = set()
    for url in listed:
        with contextlib.suppress(extract.InvalidURL):
            expected.add(extract.normalise_url(url).url)
    ours_set = {u.url for u in ours if isinstance(u, extract.ExtractedURL)}
    peer_set = set(peer)
    ours_recall = len(expected & ours_set) / max(1, len(expected))
    peer_recall = len(set(listed) & peer_set) / max(1, len(set(listed)))

    n = len(listed)
    rows = [
        ("takedown extract_urls", ours_wall, ours_cpu),
        ("iocextract.extract_urls", peer_wall, peer_cpu),
    ]
    for name, walls, cpus in rows:
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        print(
            f"{name:24} wall {wall:7.3f} s {n / wall:9,.0f} URLs/s   "
            f"cpu {cpu:7.3f} s {n / cpu:9,.0f} URLs/s"
        )
    print(
        f"takedown found {len(ours):,} distinct URLs, {ours_recall:.2%} of the listed URLs "
        f"(normalised); iocextract {len(peer):,} matches ({len(peer_set):,} distinct), "
        f"{peer_recall:.2%} of the listed URLs (verbatim)"
    )
    wall_ratio = statistics.median(peer_wall) / statistics.median(ours_wall)
    cpu_ratio = statistics.median(peer_cpu) / statistics.median(ours_cpu)
    print(f"ratio: {wall_ratio:.2f}x iocextract's rate (wall), {cpu_ratio:.2f}x (cpu)")


if __name__ == "__main__":
    main()
