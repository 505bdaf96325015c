"""Benchmark: the whole service on the SQLite default, every role, while it watches many sites.

``takedown serve`` (web, worker, mail, monitor: the production roles and
settings; screenshots off, since Chromium runs one page at a time beside
them) on a fresh SQLite database holding ``--sites`` notified sites due
for a check, served by nginx and named by unbound (``bench/farm.py``).  For
``--seconds`` it samples each role's RSS and PSS (``/proc/PID/smaps_rollup``)
and prints each role's peak and the sum of the peaks, beside the 512 MB aim,
and how many checks the monitor recorded meanwhile.  The peer, in the same
run: a bare ``python -c "import django; django.setup()"`` of the project (the
floor any role pays).

    .venv/bin/python bench/memory.py [--sites 100000] [--seconds 90]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from farm import Farm, free_port, machine  # noqa: E402


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of ``pid`` in KiB."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def children(pid: int) -> dict[int, str]:
    """The processes under ``pid``, by the role named on their command line."""
    out: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"takedown.cli" in cmd:
            args = [a.decode() for a in cmd if a]
            out[int(entry.name)] = args[args.index("takedown.cli") + 1]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=100_000)
    parser.add_argument("--hosts", type=int, default=2_000)
    parser.add_argument("--seconds", type=float, default=90)
    args = parser.parse_args()
    print(f"machine      : {machine()}")
    data = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    with Farm(sites=args.hosts, addresses=200) as farm:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")},
            **farm.env(),
            "TAKEDOWN_DATA_DIR": str(data),
            "TAKEDOWN_SCREENSHOTS": "0",
            "TAKEDOWN_LOG_LEVEL": "WARNING",
        }
        env.pop("DATABASE_URL", None)
        env.pop("DJANGO_SETTINGS_MODULE", None)
        cli = [sys.executable, "-m", "takedown.cli"]
        subprocess.run([*cli, "migrate", "-v", "0"], env=env, cwd=REPO, check=True)
        floor = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='takedown.settings'; "
                "django.setup(); "
                "print(open('/proc/self/status').read().split('VmRSS:')[1].split()[0])",
            ],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        _load_sites(data / "takedown.sqlite3", farm, args.sites, args.hosts)
        port = free_port()
        serve = subprocess.Popen(
            [*cli, "serve", "--no-migrate", "--port", str(port)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        peaks: dict[str, tuple[int, int]] = {}
        try:
            deadline = time.monotonic() + args.seconds
            pages = 0
            while time.monotonic() < deadline:
                # A handler looking at the login page now and then: the web
                # role loads its URL conf and templates as in real use.
                pages += _page(port)
                for pid, role in children(serve.pid).items():
                    rss, pss = memory_kib(pid)
                    old = peaks.get(role, (0, 0))
                    peaks[role] = (max(old[0], rss), max(old[1], pss))
                own = memory_kib(serve.pid)
                old = peaks.get("serve", (0, 0))
                peaks["serve"] = (max(old[0], own[0]), max(old[1], own[1]))
                time.sleep(1)
        finally:
            serve.terminate()
            serve.wait(timeout=60)
        db = sqlite3.connect(data / "takedown.sqlite3")
        columns = {r[1] for r in db.execute("PRAGMA table_info(monitor_check)")}
        total = "COALESCE(SUM(count), 0)" if "count" in columns else "COUNT(*)"  # before runs
        checks = db.execute(f"SELECT {total} FROM monitor_check").fetchone()[0]  # noqa: S608
    print(
        f"service      : takedown serve on SQLite, {args.sites:,} notified sites on "
        f"{args.hosts:,} host names; {checks:,} checks recorded in {args.seconds:.0f} s, "
        f"{pages} pages served"
    )
    for role, (rss, pss) in sorted(peaks.items()):
        print(f"  {role:<8}   : peak RSS {rss / 1024:6.0f} MiB, PSS {pss / 1024:6.0f} MiB")
    total_rss = sum(r for r, _ in peaks.values()) / 1024
    total_pss = sum(p for _, p in peaks.values()) / 1024
    print(
        f"total        : RSS {total_rss:.0f} MiB (sum of peaks), PSS {total_pss:.0f} MiB; "
        f"aim 512 MB = {512e6 / 2**20:.0f} MiB"
    )
    print(f"peer         : django.setup() alone {int(floor.stdout) / 1024:.0f} MiB RSS")


def _page(port: int) -> int:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as r:
            r.read()
            return 1
    except OSError:
        return 0


def _load_sites(path: Path, farm: Farm, n: int, hosts: int) -> None:
    """Notified sites, due now, straight into the database (setup, not measured)."""
    db = sqlite3.connect(path)
    now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    cols = [r[1] for r in db.execute("PRAGMA table_info(cases_site)")]
    values = {
        "state": "notified",
        "kind": "phishing",
        "brand": "Bench Bank",
        "historical": 0,
        "first_reported": now,
        "state_changed": now,
        "created": now,
        "next_check": now,
    }
    rows = []
    for i in range(n):
        url, ip = farm.urls[i % hosts]
        host = url.split("/")[2]
        row = {
            **values,
            "url": f"{url}?m={i}",
            "host": host,
            "registered_domain": ".".join(host.split(".")[-2:]),
            "ip": ip,
        }
        rows.append(row)
    named = [c for c in cols if c in rows[0]]
    with db:
        db.executemany(
            f"INSERT INTO cases_site ({', '.join(named)}) VALUES ({', '.join('?' * len(named))})",  # noqa: S608
            [[r[c] for c in named] for r in rows],
        )
    db.close()


if __name__ == "__main__":
    main()
