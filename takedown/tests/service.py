"""A real ``takedown serve`` for fault tests: started, killed, started again.

The service runs in subprocesses against the test's own database (SQLite file
or PostgreSQL) and a sandbox in the test process, so a test can hold the
sandbox's SMTP replies, read the database directly and SIGKILL any role.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from takedown.lib.supervise import children_of, die_with_parent
from takedown.lib.waiting import wait_until
from takedown.sandbox.core import Sandbox
from takedown.sandbox.runner import settings_env
from takedown.sandbox.testing import REPO_ROOT

ROLES = ("web", "worker", "mail", "monitor")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_database_url() -> str:
    """The URL of the database this test runs on, for the subprocesses."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        name = str(db["NAME"])
        assert name and "memory" not in name, "fault tests need a file database"
        return f"sqlite:///{name}"
    user = quote(str(db.get("USER") or ""))
    password = quote(str(db.get("PASSWORD") or ""))
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{connection.settings_dict['NAME']}"


@dataclass
class Service:
    sandbox: Sandbox
    data_dir: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)
    web_port: int = field(default_factory=free_port)
    inbound_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    started_roles: tuple[str, ...] = ROLES

    @property
    def failpoint_dir(self) -> Path:
        path = self.data_dir / "failpoints"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            **os.environ,
            **self.sandbox.env(),
            **settings_env(self.sandbox.scenario),
            "DATABASE_URL": test_database_url(),
            "TAKEDOWN_DATA_DIR": str(self.data_dir),
            "TAKEDOWN_INBOUND_SMTP": f"127.0.0.1:{self.inbound_port}",
            "TAKEDOWN_SCREENSHOTS": "0",
            "TAKEDOWN_FAILPOINT_DIR": str(self.failpoint_dir),
            "TAKEDOWN_LOG_LEVEL": "WARNING",
            **self.extra_env,
            **overrides,
        }
        env.pop("DJANGO_SETTINGS_MODULE", None)
        return env

    def start(self, *, only: str = "", **env: str) -> None:
        """Start ``takedown serve`` (``only``: some roles); ``env`` adds variables."""
        self.starts += 1
        self.started_roles = tuple(only.split(",")) if only else ROLES
        log = (self.data_dir / f"serve-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "takedown.cli", "serve", "--no-migrate",
             "--port", str(self.web_port), *(["--only", only] if only else [])],
            cwd=REPO_ROOT,
            env=self.env(**env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # A pytest killed by its timeout or by hand takes this serve with it,
            # so no service is left holding the test's ports and files.
            preexec_fn=die_with_parent(),
        )  # fmt: skip
        log.close()
        self.sandbox.set_inbound("127.0.0.1", self.inbound_port)

    def roles(self) -> dict[str, int]:
        """Role name -> pid of the running roles of this ``serve``."""
        assert self.proc is not None
        out: dict[str, int] = {}
        for pid, cmd in children_of(self.proc.pid).items():
            # [python, "-m", "takedown.cli", role, ...]
            if len(cmd) > 3 and cmd[3] in ROLES:
                out[cmd[3]] = pid
        return out

    def wait_roles(self, *names: str, timeout: float = 60) -> dict[str, int]:
        """Wait until the named roles (default: all that were started) run; their pids."""
        wanted = names or self.started_roles

        def running() -> dict[str, int]:
            roles = self.roles()
            return roles if all(n in roles for n in wanted) else {}

        return wait_until(running, timeout=timeout, what=f"roles {wanted} running")

    def kill_role(self, name: str) -> int:
        pid = self.wait_roles(name)[name]
        os.kill(pid, signal.SIGKILL)
        return pid

    def wait_failpoint(self, name: str, timeout: float = 60) -> int:
        """Wait until a process stops at failpoint ``name``; its pid."""
        path = self.failpoint_dir / name

        def pid() -> int:
            # The file is written in one go, ending with a newline.
            text = path.read_text() if path.exists() else ""
            return int(text) if text.endswith("\n") else 0

        return wait_until(pid, timeout=timeout, what=f"failpoint {name}")

    def log_text(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.data_dir.glob("serve-*.log"))
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: it only waits for its parent to read its status.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z":
            return False
    return True


def wait_gone(pids: list[int], timeout: float = 30) -> None:
    wait_until(lambda: not any(pid_alive(p) for p in pids), timeout=timeout, what=f"{pids} to end")
