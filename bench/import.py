"""Benchmark: `takedown import` of JPCERT/CC's 2022-2024 phishing URL lists.

Imports the ~180,000 rows into a fresh SQLite database (WAL, as `make run`
uses) and prints URLs/second.  The peer, measured in the same run, is the
floor for any importer: Python's sqlite3 inserting the same raw rows with
executemany into one table, with no parsing, normalisation or deduplication.

    .venv/bin/python bench/import.py [--years 2022 2023 2024]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "jpcert-phishurl"


def machine() -> str:
    return (
        f"{platform.node()} {platform.machine()} {os.cpu_count()} cpus, "
        f"Python {platform.python_version()}, {platform.platform()}"
    )


def run_takedown(args: list[str], data_dir: str) -> float:
    env = {**os.environ, "TAKEDOWN_DATA_DIR": data_dir}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "takedown.cli", *args], env=env, check=True)
    return time.perf_counter() - start


def peer_sqlite(files: list[Path], path: str) -> tuple[int, float]:
    start = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE rows (date TEXT, url TEXT, description TEXT)")
    n = 0
    for f in files:
        with f.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            next(reader)
            rows = [tuple([*r, "", "", ""][:3]) for r in reader]
        db.executemany("INSERT INTO rows VALUES (?, ?, ?)", rows)
        n += len(rows)
    db.commit()
    db.close()
    return n, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--years", nargs="+", default=["2022", "2023", "2024"])
    opts = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"skipped: {DATA} is not available")
    files = sorted(f for y in opts.years for f in (DATA / y).glob("*.csv"))
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        n, peer_s = peer_sqlite(files, os.path.join(tmp, "peer.sqlite3"))
        run_takedown(["migrate", "--no-input", "-v", "0"], tmp)
        first = run_takedown(
            [
                "import",
                "--history",
                "--quiet",
                "--name",
                "JPCERT/CC",
                "--type",
                "csirt",
                "--country",
                "JP",
                *map(str, files),
            ],
            tmp,
        )
        second = run_takedown(["import", "--history", "--quiet", *map(str, files)], tmp)
    print(f"rows: {n} in {len(files)} files ({', '.join(opts.years)})")
    print(f"takedown import (fresh DB):     {first:7.1f} s  {n / first:9.0f} URLs/s")
    print(f"takedown import (again, no-op): {second:7.1f} s  {n / second:9.0f} URLs/s")
    print(f"peer: raw sqlite3 executemany:  {peer_s:7.1f} s  {n / peer_s:9.0f} rows/s")
    print(f"ratio takedown/peer: {(n / first) / (n / peer_s):.3f}")


if __name__ == "__main__":
    main()
