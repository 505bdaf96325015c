"""End to end against the sandbox: a bounce climbs to the registrar, which suspends the domain.

The whole service runs (``takedown sandbox run``: real processes, real SMTP,
DNS, RDAP and WHOIS).  The organisation's only address bounces; the
registrar is told at once, suspends the domain a second later; the monitor
sees the name stop resolving, the site closes and its reporter is told.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from takedown.sandbox.testing import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.concurrency]

SCENARIO = """
name: escalation
duration: 60
settings: {check_interval: 0.5, confirm_down: 2, renotify_after: 120, notice_batch_window: 0}
registrars:
  - {id: acting-registrar, name: Acting Registrar, abuse_email: abuse@acting-registrar.example}
organizations:
  - {id: dead-net, name: Dead Net, country: US, kind: overseas, registry: arin,
     networks: [127.31.0.0/16], asn: 64631, abuse_email: abuse@dead-net.example,
     behavior: {reply: never, bounce: all}}
sites:
  - {id: e1, url: "http://login.bank-e1.example/", ip: 127.31.0.10,
     registrar: acting-registrar}
reports:
  - {at: 0, channel: api, reporter: {name: Bank E SOC, email: soc@bank-e1.example,
     type: financial, country: US}, text: "hxxp://login.bank-e1[.]example/"}
"""


def test_it_escalates_to_the_registrar_which_takes_the_site_down(tmp_path: Path) -> None:
    scenario = tmp_path / "escalation.yaml"
    scenario.write_text(SCENARIO)
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
    [site] = result["sites"]
    # Every address of the organisation bounced: the registrar was told, once.
    assert site["escalated_to"] == ["registrar:acting-registrar"], site
    assert site["escalations"] == 1
    assert result["mail"]["escalations_sent"] == 1
    # It suspended the domain; the monitor saw it, the site closed, the reporter was told.
    assert site["sandbox_status"] == "down"
    assert site["state"] == "closed", site["transitions"]
    assert site["reporter_notified"] is True
    assert result["mail"]["duplicate_notices"] == 0
