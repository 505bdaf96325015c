"""``takedown serve``: the whole service on one machine, in one command.

It starts one child process per role (web, worker, inbound mail, monitor)
with the same settings and supervises them:

1. Children cannot outlive it (``takedown.lib.supervise``): even a SIGKILL of
   ``serve`` stops every role, so the next ``serve`` starts on free ports.
2. A role that exits unexpectedly is started again after a short pause that
   doubles while it keeps failing (1 s up to 30 s).  Every step of the loop
   finds its work in the database, so a restarted role carries on where the
   dead one stopped.  A role that keeps failing within seconds of its start
   (a bad setting, a port taken) ends the service with its status, so a crash
   loop never goes unnoticed.
3. Ctrl-C or SIGTERM stops every role cleanly (SIGTERM, then SIGKILL after
   15 s) and exits 0.

Production runs the same roles as separate services (see docs/deployment.md).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.lib.supervise import ENV_FD, die_with_parent

# A role that dies sooner than this after its start counts as failing to start.
QUICK_EXIT = 10.0
GIVE_UP_AFTER = 5
RESTART_MAX = 30.0
STOP_GRACE = 15.0


def role_commands(host: str, port: int) -> dict[str, list[str]]:
    base = [sys.executable, "-m", "takedown.cli"]
    # The web role runs the system checks (it loads the URL conf they check
    # anyway); in the other roles, and in serve itself, they would import the
    # whole URL conf (the web UI, matplotlib) for nothing: about 50 MB of RSS
    # in each (bench/memory.py).  A web role that fails them exits at once,
    # and serve gives up after GIVE_UP_AFTER quick exits.
    return {
        "web": [*base, "web", "--host", host, "--port", str(port)],
        "worker": [*base, "worker", "--skip-checks"],
        "mail": [*base, "mail", "--skip-checks"],
        # The monitor also takes the evidence screenshots in a thread of its own.
        "monitor": [*base, "monitor", "--skip-checks"],
    }


@dataclass
class Role:
    name: str
    cmd: list[str]
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    quick_failures: int = 0
    restart_at: float | None = None
    delay: float = 1.0
    statuses: list[int] = field(default_factory=list)


class Command(BaseCommand):
    help = "Start web, worker, inbound mail listener and monitor together (Ctrl-C stops them)."
    # The web role checks (role_commands): serve stays a small supervisor.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-migrate", action="store_true")
        parser.add_argument("--only", default="", help="comma-separated roles to start")
        parser.add_argument(
            "--sandbox",
            metavar="SCENARIO",
            default="",
            help="demo: run on the simulated internet of this scenario, feeding its reports",
        )
        parser.add_argument(
            "--pace",
            type=float,
            default=8.0,
            help="with --sandbox: stretch the scenario's times by this factor (default 8)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["sandbox"]:
            self.demo(opts)
            return
        if not settings.SANDBOX:
            self.stdout.write(
                "Takedown will contact the real internet: DNS resolvers, RDAP and WHOIS "
                "registries, the reported sites themselves, and the mail server that sends "
                "notices to their administrators. For a closed demo use "
                "'takedown serve --sandbox scenarios/seed-cases.yaml' (make demo)."
            )
        if not opts["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        self.ensure_admin()
        commands = role_commands(opts["host"], opts["port"])
        if opts["only"]:
            wanted = {r.strip() for r in opts["only"].split(",")}
            commands = {k: v for k, v in commands.items() if k in wanted}
        roles = [Role(name, cmd) for name, cmd in commands.items()]
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        if "web" in commands:
            # Roles of a supervisor that was just killed may still be ending.
            wait_for_free_port(opts["host"], opts["port"], timeout=STOP_GRACE)
        # The children watch this pipe's read end; its write end closes only
        # when this process is gone (docs/architecture.md, "Processes").
        watch_fd, self._keep_fd = os.pipe()
        for role in roles:
            self.start(role, watch_fd)
        self.stdout.write(
            f"Takedown is running on http://{opts['host']}:{opts['port']}/ "
            f"({', '.join(r.name for r in roles)}). Press Ctrl-C to stop."
        )
        self.stdout.flush()
        failed = ""
        while not stopping and not failed:
            now = time.monotonic()
            for role in roles:
                if role.restart_at is not None:
                    if now >= role.restart_at:
                        self.start(role, watch_fd)
                    continue
                assert role.proc is not None
                status = role.proc.poll()
                if status is None:
                    continue
                failed = self.exited(role, status, now)
                if failed:
                    break
            time.sleep(0.2)
        self.stdout.write("Stopping " + ", ".join(r.name for r in roles) + " ...")
        self.stdout.flush()
        stop_all([r.proc for r in roles if r.proc is not None])
        if failed:
            self.stderr.write(f"takedown serve: {failed}")
            raise SystemExit(1)
        self.stdout.write("Stopped.")

    def start(self, role: Role, watch_fd: int) -> None:
        # Children ignore the terminal's Ctrl-C (their own session): this
        # supervisor decides when and how they stop, in one orderly shutdown.
        role.proc = subprocess.Popen(
            role.cmd,
            start_new_session=True,
            pass_fds=(watch_fd,),
            env={**os.environ, ENV_FD: str(watch_fd)},
            # preexec_fn is safe here: the supervisor runs no threads.
            preexec_fn=die_with_parent(),
        )
        role.started = time.monotonic()
        role.restart_at = None

    def exited(self, role: Role, status: int, now: float) -> str:
        """A role ended on its own: schedule its restart, or say why the service stops."""
        role.proc = None
        if now - role.started < QUICK_EXIT:
            role.quick_failures += 1
        else:
            role.quick_failures, role.delay = 0, 1.0
        if role.quick_failures >= GIVE_UP_AFTER:
            return (
                f"{role.name} exited with status {status} "
                f"{role.quick_failures} times within {QUICK_EXIT:g} s of starting"
            )
        self.stderr.write(
            f"takedown serve: {role.name} exited with status {status}; "
            f"starting it again in {role.delay:g} s"
        )
        self.stderr.flush()
        role.restart_at = now + role.delay
        role.delay = min(role.delay * 2, RESTART_MAX)
        return ""

    def demo(self, opts: dict[str, Any]) -> None:
        from takedown.sandbox.demo import run_demo
        from takedown.sandbox.runner import RunError
        from takedown.sandbox.scenario import ScenarioError

        if opts["pace"] <= 0:
            raise CommandError("--pace must be more than 0")
        try:
            run_demo(
                opts["sandbox"],
                port=opts["port"],
                pace=opts["pace"],
                data_dir=settings.DATA_DIR,
                out=self.stdout,
            )
        except (ScenarioError, RunError, OSError) as exc:
            raise CommandError(str(exc)) from None

    def ensure_admin(self) -> None:
        """On first start, make sure someone can log in, and say how."""
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            self.stdout.write(
                "Log in with your admin account (takedown createsuperuser adds more)."
            )
            return
        if sys.stdin.isatty():
            self.stdout.write("No admin account yet: create the first one.")
            call_command("createsuperuser")
            return
        password = secrets.token_urlsafe(12)
        users.objects.create_superuser("admin", "", password)
        self.stdout.write(
            f"Created the first admin account: user 'admin', password '{password}'. "
            "Change it after logging in."
        )


def stop_all(procs: list[subprocess.Popen[bytes]], *, grace: float = STOP_GRACE) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for_free_port(host: str, port: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
                return
            except OSError:
                time.sleep(0.2)
