"""``takedown serve``: the whole service on one machine, in one command.

It starts one child process per role (web, worker, inbound mail, monitor)
with the same settings and supervises them: Ctrl-C or SIGTERM stops all of
them cleanly, and if one dies the others are stopped too, so a half-running
service never goes unnoticed.  Production runs the same roles as separate
services (see docs/deployment.md).
"""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser


def role_commands(host: str, port: int) -> dict[str, list[str]]:
    base = [sys.executable, "-m", "takedown.cli"]
    return {
        "web": [*base, "web", "--host", host, "--port", str(port)],
        "worker": [*base, "run_huey", "--quiet"],
        "mail": [*base, "mail"],
        # The monitor also takes the evidence screenshots in a thread of its own.
        "monitor": [*base, "monitor"],
    }


class Command(BaseCommand):
    help = "Start web, worker, inbound mail listener and monitor together (Ctrl-C stops them)."

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
        roles = role_commands(opts["host"], opts["port"])
        if opts["only"]:
            wanted = {r.strip() for r in opts["only"].split(",")}
            roles = {k: v for k, v in roles.items() if k in wanted}
        children: dict[str, subprocess.Popen[bytes]] = {}
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for name, cmd in roles.items():
            # Children ignore SIGINT from the terminal: this supervisor decides
            # when and how they stop, so Ctrl-C gives one orderly shutdown.
            children[name] = subprocess.Popen(cmd, start_new_session=True)
        self.stdout.write(
            f"Takedown is running on http://{opts['host']}:{opts['port']}/ "
            f"({', '.join(children)}). Press Ctrl-C to stop."
        )
        self.stdout.flush()
        failed = ""
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    failed = f"{name} exited with status {child.returncode}"
                    stopping = True
                    break
            time.sleep(0.2)
        self.stdout.write("Stopping " + ", ".join(children) + " ...")
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children.values():
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if failed:
            self.stderr.write(f"takedown serve: {failed}")
            raise SystemExit(1)
        self.stdout.write("Stopped.")

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
