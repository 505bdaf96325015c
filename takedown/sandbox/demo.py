"""``takedown serve --sandbox SCENARIO``: the whole service on the simulated internet,
slowed down so a person can follow it in the browser (``make demo``).

1. The scenario's times (reports, organisations' replies and takedowns,
   revivals, and its timing settings) are stretched by ``pace``.
2. A fresh service is prepared in ``<data dir>/demo`` (migrated, an admin
   account with a new password, the scenario's reporters in the directory).
3. The sandbox starts, then ``takedown serve`` against it; the login is printed.
4. The reports arrive at their (stretched) times through their channels, and
   the service does the rest: locate, notify, monitor, close, watch for revival.
5. Ctrl-C stops the service and the sandbox; the data directory is kept until
   the next demo, so the history can still be looked at with ``takedown serve``
   pointed at it.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Any

from takedown.sandbox.core import Sandbox
from takedown.sandbox.reporters import ReportFeeder, default_channels
from takedown.sandbox.runner import RunError, ServiceProcess, free_port, settings_env
from takedown.sandbox.scenario import Scenario, load_scenario

# Scenario settings that count something rather than measure time.
NOT_TIMES = {"confirm_down", "notice_max_followups"}


def _stretch(value: float | None, pace: float) -> float | None:
    return None if value is None else value * pace


def scenario_paced(scenario: Scenario, pace: float) -> Scenario:
    """The same scenario with every time multiplied by ``pace``."""
    if pace == 1:
        return scenario
    replace = dataclasses.replace
    return replace(
        scenario,
        duration=scenario.duration * pace,
        settings={
            key: value if key in NOT_TIMES else value * pace
            for key, value in scenario.settings.items()
        },
        organizations=tuple(
            replace(
                org,
                behavior=replace(
                    org.behavior,
                    reply_after=org.behavior.reply_after * pace,
                    takedown_after=_stretch(org.behavior.takedown_after, pace),
                ),
            )
            for org in scenario.organizations
        ),
        sites=tuple(
            replace(
                site,
                revive_after=_stretch(site.revive_after, pace),
                appears_at=_stretch(site.appears_at, pace),
            )
            for site in scenario.sites
        ),
        reports=tuple(replace(report, at=report.at * pace) for report in scenario.reports),
    )


def run_demo(path: str, *, port: int, pace: float, data_dir: Path, out: Any) -> None:
    """Run until Ctrl-C; the service listens on 127.0.0.1:``port``."""
    host = "127.0.0.1"
    scenario = scenario_paced(load_scenario(path), pace)
    demo_dir = data_dir / "demo"
    shutil.rmtree(demo_dir, ignore_errors=True)
    demo_dir.mkdir(parents=True)
    sandbox = Sandbox(scenario, workdir=demo_dir / "sandbox")
    service: ServiceProcess | None = None
    feeder: ReportFeeder | None = None
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        sandbox.start()
        inbound_port = free_port()
        env = {
            **os.environ,
            **sandbox.env(),
            **settings_env(scenario),
            "TAKEDOWN_DATA_DIR": str(demo_dir / "service"),
            "TAKEDOWN_INBOUND_SMTP": f"127.0.0.1:{inbound_port}",
            "TAKEDOWN_SITE_URL": f"http://{host}:{port}",
        }
        for name in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE"):
            env.pop(name, None)
        service = ServiceProcess(
            env=env, data_dir=demo_dir, web_port=port, inbound_port=inbound_port
        )
        user, password, token = service.prepare()
        service.register_reporters(scenario)
        service.start()
        sandbox.set_inbound("127.0.0.1", inbound_port)
        out.write(
            f"Takedown demo: scenario '{scenario.name}' on the simulated internet "
            f"(nothing leaves this machine), {len(scenario.reports)} reports over "
            f"{scenario.duration:.0f} s (pace x{pace:g}).\n"
            f"Open http://{host}:{port}/ and log in as '{user}' with password '{password}'.\n"
            f"Data: {demo_dir} (the service log is service.log). Ctrl-C stops it.\n"
        )
        out.flush()
        endpoints = service.endpoints(user, password, token)
        feeder = ReportFeeder(scenario.reports, default_channels(endpoints))
        feeder.start()
        while not stop.wait(0.5):
            if not service.alive():
                raise RunError(f"the service stopped; see {service.log_path}")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if feeder is not None:
            feeder.stop()
        if service is not None:
            service.stop()
        sandbox.stop()
        out.write("Demo stopped.\n")
        out.flush()
