from __future__ import annotations

import json
import smtplib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from takedown.sandbox.core import Sandbox
from takedown.sandbox.reporters import Delivery, ReportFeeder
from takedown.sandbox.runner import ScenarioRun, settings_env, summary, url_key
from takedown.sandbox.scenario import load_scenario, parse_scenario
from takedown.sandbox.testing import REPO_ROOT, SEED_SCENARIO
from takedown.sandbox.tests.small import SMALL

pytestmark = pytest.mark.concurrency

TINY = """
name: tiny
duration: 120  # stops as soon as both sites are settled
settings: {check_interval: 1, confirm_down: 2, renotify_after: 10}
organizations:
  - {id: net-a, name: Example Net A, country: JP, kind: isp, registry: apnic,
     networks: [127.21.0.0/16], asn: 64601, abuse_email: abuse@net-a.example,
     behavior: {reply: always, reply_after: 1, takedown_after: 2}}
sites:
  - {id: s1, url: "http://login.bank-a.example/jp/", ip: 127.21.0.10}
  - {id: s2, url: "http://login.bank-b.example/", ip: 127.21.0.11}
reports:
  - {at: 0, channel: email, reporter: {name: SOC, email: soc@bank-a.example, type: financial},
     text: "hxxp://login.bank-a[.]example/jp/"}
  - {at: 0.5, channel: api, reporter: {name: SOC B, email: soc@bank-b.example, type: financial},
     text: "hxxp://login.bank-b[.]example/"}
"""


def test_it_maps_scenario_settings_to_the_environment() -> None:
    env = settings_env(load_scenario(SEED_SCENARIO))
    assert env["TAKEDOWN_CHECK_INTERVAL"] == "1"
    assert env["TAKEDOWN_RENOTIFY_AFTER"] == "10"
    assert url_key("http://LOGIN.bank-a.example/jp/") == ("login.bank-a.example", "/jp/")


def test_it_builds_the_contract_result(sandbox_factory: Callable[..., Sandbox]) -> None:
    scenario = parse_scenario(SMALL)
    sb = sandbox_factory(scenario)
    run = ScenarioRun(scenario)
    feeder = ReportFeeder(scenario.reports, {})
    feeder.deliveries.append(Delivery(0, "email", 0.0, True))
    for msgid in ("<a@x>", "<b@x>"):
        with smtplib.SMTP("127.0.0.1", sb.smtp_port, timeout=5) as client:
            client.sendmail(
                "notices@takedown.example",
                ["abuse@jp-isp.example", "noc@jp-isp.example"],
                f"Message-ID: {msgid}\r\nSubject: [T1] notice\r\n\r\nhxxps://login.bank[.]example/jp/\r\n",
            )
    with smtplib.SMTP("127.0.0.1", sb.smtp_port, timeout=5) as client:
        client.sendmail(
            "notices@takedown.example",
            ["soc@reporter.example"],
            b"Subject: closed\r\n\r\nhxxps://login.bank[.]example/jp/ is down.\r\n",
        )
    sb.wait_until(lambda: len(sb.notices) == 2 and sb.site_status("jp1") == "down", timeout=30)
    key = url_key("https://login.bank.example/jp/")
    run.observed[key] = {"state": "closed", "organization": "JP ISP"}
    run.transitions[key] = [(0.1, "reported"), (1.5, "down"), (2.5, "closed")]
    result = run.result(sb, feeder, {"reports_by_month": {}}, offset=0.0)
    site = next(s for s in result["sites"] if s["id"] == "jp1")
    assert site["state"] == "closed" and site["org"] == "JP ISP" and site["org_kind"] == "isp"
    assert site["notices"] == 2
    assert site["abuse"] == ["abuse@jp-isp.example", "noc@jp-isp.example"]
    assert site["reporter_notified"] is True
    assert site["first_notice_s"] is not None and site["first_notice_s"] >= 0
    assert site["time_to_down_s"] is not None
    assert result["mail"] == {
        "notices_sent": 2,
        "escalations_sent": 0,
        "duplicate_notices": 1,  # the second came at once, not after renotify_after
        "reporter_messages": 1,
        "bot_messages": result["mail"]["bot_messages"],
        "bot_messages_delivered": 0,
    }
    assert next(s for s in result["sites"] if s["id"] == "us1")["state"] == "missing"
    assert "jp1" in summary(result)
    json.dumps(result)


@pytest.mark.slow
def test_it_runs_the_service_against_a_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY)
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, "-m", "takedown.cli", "sandbox", "run", str(scenario), "--json", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["scenario"] == "tiny"
    assert [r["ok"] for r in result["reports"]] == [True, True], result["reports"]
    assert {s["id"] for s in result["sites"]} == {"s1", "s2"}
    # Both sites reached the service through their channels.
    assert all(s["state"] != "missing" for s in result["sites"])
    assert set(result["mail"]) >= {"notices_sent", "duplicate_notices", "reporter_messages"}
    assert "reports_by_month" in result["stats"]


def test_it_leaves_no_service_behind_when_the_run_is_killed(tmp_path: Path) -> None:
    """``sandbox run`` killed outright (a timeout's SIGKILL) takes its ``serve`` with it."""
    from takedown.lib.supervise import children_of
    from takedown.lib.waiting import wait_until
    from takedown.tests.service import pid_alive

    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY)
    proc = subprocess.Popen(
        [sys.executable, "-m", "takedown.cli", "sandbox", "run", str(scenario)],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def serve_and_roles() -> list[int]:
            serve = [p for p, cmd in children_of(proc.pid).items() if cmd[3:4] == ["serve"]]
            roles = [r for s in serve for r in children_of(s)]
            return [*serve, *roles] if serve and roles else []

        started = wait_until(serve_and_roles, timeout=120, what="sandbox run's serve and roles")
    finally:
        proc.kill()
        proc.wait()
    wait_until(
        lambda: not any(pid_alive(p) for p in started),
        timeout=60,
        what="serve and its roles gone after the run was killed",
    )
