"""``takedown sandbox up|run SCENARIO.yaml``: the simulated internet (docs/sandbox.md)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.sandbox.core import Sandbox
from takedown.sandbox.scenario import ScenarioError, load_scenario


def _hostport(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise CommandError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


class Command(BaseCommand):
    help = "Run the simulated internet of a scenario (up), or the whole service against it (run)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        up = sub.add_parser("up", help="start the simulated internet and print the settings for it")
        up.add_argument("scenario")
        up.add_argument(
            "--http-port",
            type=int,
            default=None,
            help="port of the site farm's HTTP servers (default: 80 when free, else a free port)",
        )
        up.add_argument("--https-port", type=int, default=None, help="likewise for HTTPS (443)")
        up.add_argument(
            "--inbound",
            default="",
            help="HOST:PORT of the service's inbound SMTP listener, where organisations' mail goes",
        )
        up.add_argument("--env-file", default="", help="also write the settings to this file")
        run = sub.add_parser("run", help="run the service against the scenario and report")
        run.add_argument("scenario")
        run.add_argument("--json", dest="json_out", default="", help="write the result JSON here")
        run.add_argument("--keep", action="store_true", help="keep the temporary data directory")
        run.add_argument(
            "--kill",
            action="append",
            default=[],
            type=_kill_at,
            metavar="ROLE@SECONDS",
            help="SIGKILL a role of the service at that time of the run (repeatable), "
            "e.g. worker@8: the scenario must end the same",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            scenario = load_scenario(opts["scenario"])
        except ScenarioError as exc:
            raise CommandError(str(exc)) from None
        if opts["action"] == "up":
            self.up(scenario, opts)
        else:
            self.run(scenario, opts)

    def up(self, scenario: Any, opts: dict[str, Any]) -> None:
        inbound = _hostport(opts["inbound"]) if opts["inbound"] else None
        sandbox = None
        errors: list[str] = []
        for http_port, https_port in self._port_choices(opts):
            try:
                sandbox = Sandbox(
                    scenario, inbound=inbound, http_port=http_port, https_port=https_port
                ).start()
                break
            except OSError as exc:
                errors.append(str(exc))
        if sandbox is None:
            raise CommandError("cannot start the sandbox: " + "; ".join(errors))
        stop = threading.Event()
        previous = {
            sig: signal.signal(sig, lambda *_: stop.set())
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            lines = [f"{key}={value}" for key, value in sandbox.env().items()]
            if inbound is None:
                lines.append(
                    "# organisations' mail is kept, not delivered: pass --inbound HOST:PORT"
                )
            if opts["env_file"]:
                Path(opts["env_file"]).write_text("\n".join(lines) + "\n")
            self.stdout.write("\n".join(lines))
            self.stdout.write(
                f"# sandbox '{scenario.name}' is up: {len(scenario.sites)} sites, "
                f"WHOIS servers {json.dumps(sandbox.whois_ports)}. Ctrl-C stops it."
            )
            self.stdout.flush()
            while not stop.wait(0.5):
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            sandbox.stop()
            self.stdout.write("# sandbox stopped")

    @staticmethod
    def _port_choices(opts: dict[str, Any]) -> list[tuple[int, int]]:
        http_port, https_port = opts["http_port"], opts["https_port"]
        if http_port is not None or https_port is not None:
            return [(http_port or 0, https_port or 0)]
        # The scheme's own ports let the service fetch http://host/ unchanged; they
        # need root (or CAP_NET_BIND_SERVICE) and may be taken, so fall back.
        choices = [(0, 0)]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            choices.insert(0, (80, 443))
        return choices

    def run(self, scenario: Any, opts: dict[str, Any]) -> None:
        from takedown.sandbox.runner import RunError, ScenarioRun, summary

        runner = ScenarioRun(
            scenario, keep=opts["keep"], echo=lambda m: self.stderr.write(m), kills=opts["kill"]
        )

        def interrupted(signum: int, frame: Any) -> None:
            # Unwind through the runner's clean-up (service, sandbox, temp files).
            raise RunError(f"interrupted by signal {signum}")

        previous = signal.signal(signal.SIGTERM, interrupted)
        try:
            result = runner.run()
        except (RunError, KeyboardInterrupt) as exc:
            raise CommandError(str(exc) or "interrupted") from None
        finally:
            signal.signal(signal.SIGTERM, previous)
        if opts["json_out"]:
            Path(opts["json_out"]).write_text(
                json.dumps(result, indent=2, ensure_ascii=False) + "\n"
            )
        self.stdout.write(summary(result))


def _kill_at(value: str) -> tuple[str, float]:
    from takedown.sandbox.runner import ROLES

    role, _, at = value.partition("@")
    try:
        seconds = float(at)
    except ValueError:
        seconds = -1.0
    if role not in ROLES or seconds < 0:
        raise argparse.ArgumentTypeError(
            f"{value!r}: expected ROLE@SECONDS with ROLE one of {', '.join(ROLES)}"
        )
    return role, seconds
