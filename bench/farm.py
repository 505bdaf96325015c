"""A site farm fast enough not to be the bottleneck: Debian's nginx and unbound on loopback.

The benchmarks of the monitor (``checks.py``, ``watch.py``) need N phishing
sites on many addresses and a DNS server that names them.  The sandbox's farm
and DNS server are Python (aiohttp, dnslib): at thousands of checks a second
they, not the checker, would be measured.  Here nginx serves one login page on
every address (one worker process, no access log) and unbound answers every
site's name from ``local-data`` (one thread, no recursion), both as children
of the benchmark, on loopback addresses and free ports, with their files in a
temporary directory.  ``make bench`` installs both (``BENCH_PACKAGES``).

    with Farm(sites=20_000, addresses=200, ttl=300) as farm:
        farm.urls        # [(url, ip)], one host name per site
        farm.env()       # TAKEDOWN_* variables that point the service at it
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

# The page every site serves: a login form with a brand in the title, as a kit's.
PAGE = (
    "<!doctype html><html><head><meta charset=utf-8><title>Bench Bank | Login</title></head>"
    "<body><h1>Bench Bank</h1><form method=post action=/login>"
    "<input name=user><input type=password name=pass><button>Sign in</button></form>"
    + "<p>"
    + "Online banking for our customers. " * 40
    + "</p></body></html>"
)
NETWORK = "127.90.0.0/16"


def machine() -> str:
    """The machine, for every benchmark's first line (figures are only comparable on one)."""
    load = os.getloadavg()
    return (
        f"{platform.node()} {platform.machine()} {os.cpu_count()} cpus, "
        f"load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def free_port() -> int:
    """A port no one listens on now (nginx and unbound cannot be given port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def site_ip(i: int, addresses: int) -> str:
    n = i % addresses
    return f"127.90.{n // 250}.{n % 250 + 1}"


def site_url(i: int) -> str:
    return f"http://login{i}.bank{i % 97}.example/p/{i}/"


class Farm:
    def __init__(self, *, sites: int, addresses: int = 200, ttl: int = 300) -> None:
        for tool in ("nginx", "unbound"):
            if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
                raise SystemExit(f"skipped: {tool} is not installed (make bench installs it)")
        self.sites = sites
        self.addresses = addresses
        self.ttl = ttl
        self.dir = Path(tempfile.mkdtemp(prefix="bench-farm-"))
        self.http_port = free_port()
        self.dns_port = free_port()
        self.urls = [(site_url(i), site_ip(i, addresses)) for i in range(sites)]
        self._procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Farm:
        self._start_nginx()
        self._start_unbound()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        for proc in self._procs:
            proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs = []
        shutil.rmtree(self.dir, ignore_errors=True)

    def env(self) -> dict[str, str]:
        """Settings that point a Takedown service at the farm (as the sandbox's ``env``)."""
        return {
            "TAKEDOWN_DNS_RESOLVER": f"127.0.0.1:{self.dns_port}",
            "TAKEDOWN_ALLOW_LOOPBACK_TARGETS": "1",
            "TAKEDOWN_LOOPBACK_TARGETS": NETWORK,
            "TAKEDOWN_HTTP_PORT": str(self.http_port),
        }

    # --- nginx ---

    def _start_nginx(self) -> None:
        listens = "\n".join(
            f"    listen {site_ip(i, self.addresses)}:{self.http_port};"
            for i in range(min(self.addresses, self.sites))
        )
        page = PAGE.replace("'", "&#39;")
        conf = self.dir / "nginx.conf"
        conf.write_text(
            f"""daemon off;
master_process on;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/nginx-error.log error;
worker_rlimit_nofile 16384;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  client_body_temp_path {self.dir}/body;
  proxy_temp_path {self.dir}/proxy;
  fastcgi_temp_path {self.dir}/fastcgi;
  uwsgi_temp_path {self.dir}/uwsgi;
  scgi_temp_path {self.dir}/scgi;
  keepalive_requests 100000;
  server {{
{listens}
    location / {{ default_type "text/html; charset=utf-8"; return 200 '{page}'; }}
  }}
}}
"""
        )
        proc = subprocess.Popen(
            ["nginx", "-c", str(conf), "-p", str(self.dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._procs.append(proc)
        self._wait_tcp(site_ip(0, self.addresses), self.http_port, proc, "nginx")

    # --- unbound ---

    def _start_unbound(self) -> None:
        conf = self.dir / "unbound.conf"
        lines = [
            "server:",
            "  interface: 127.0.0.1",
            f"  port: {self.dns_port}",
            "  do-daemonize: no",
            '  chroot: ""',
            '  username: ""',
            f'  directory: "{self.dir}"',
            f'  pidfile: "{self.dir}/unbound.pid"',
            "  use-syslog: no",
            f'  logfile: "{self.dir}/unbound.log"',
            "  verbosity: 0",
            "  num-threads: 1",
            "  so-reuseport: no",
            "  do-ip6: no",
            "  access-control: 127.0.0.0/8 allow",
            '  module-config: "iterator"',
            '  local-zone: "example." static',
            "  msg-cache-size: 64m",
            "  rrset-cache-size: 64m",
        ]
        lines += [
            f'  local-data: "{url.split("/")[2]}. {self.ttl} IN A {ip}"' for url, ip in self.urls
        ]
        lines += ["remote-control:", "  control-enable: no"]
        conf.write_text("\n".join(lines) + "\n")
        proc = subprocess.Popen(
            ["unbound", "-d", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self._procs.append(proc)
        self._wait_dns(proc)

    def _wait_tcp(self, host: str, port: int, proc: subprocess.Popen[bytes], what: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(
                    f"{what} did not start: {proc.stderr.read().decode() if proc.stderr else ''}"
                )
            try:
                with socket.create_connection((host, port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"{what} did not listen on {host}:{port} within 30 s")

    def _wait_dns(self, proc: subprocess.Popen[bytes]) -> None:
        import dns.message
        import dns.query

        host = self.urls[0][0].split("/")[2]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(
                    f"unbound did not start: {proc.stderr.read().decode() if proc.stderr else ''}"
                )
            try:
                answer = dns.query.udp(
                    dns.message.make_query(host, "A"), "127.0.0.1", timeout=0.5, port=self.dns_port
                )
                if answer.answer:
                    return
            except Exception:
                time.sleep(0.2)
        raise SystemExit("unbound did not answer within 60 s")
