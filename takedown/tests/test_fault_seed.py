"""The seed's six cases end the same when the worker is SIGKILLed twice during the run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from takedown.monitor.tests.test_sandbox import SEED_EXPECTED
from takedown.sandbox.testing import REPO_ROOT, SEED_SCENARIO


@pytest.mark.fault
@pytest.mark.concurrency
@pytest.mark.timeout(600)
# Open (issue 10): on this loaded machine the run ended twice with site b12
# still "notified" (located to another organisation than in a run without
# kills, and no notice naming it reached the sandbox); the other 23 sites
# ended as expected, with no duplicate notice.  Not yet explained.
@pytest.mark.xfail(strict=False, reason="b12 may end notified; under investigation")
def test_the_seed_cases_end_the_same_with_the_worker_killed_twice(tmp_path: Path) -> None:
    out = tmp_path / "seed.json"
    # The same scenario with more time allowed: each kill costs a role's restart
    # and a lease (5 s in sandbox runs), and the run still ends as soon as every
    # site has settled.
    scenario = tmp_path / "seed-cases.yaml"
    text = SEED_SCENARIO.read_text()
    assert "\nduration: 50\n" in text
    scenario.write_text(text.replace("\nduration: 50\n", "\nduration: 150\n"))
    proc = subprocess.run(
        [sys.executable, "-m", "takedown.cli", "sandbox", "run", str(scenario),
         "--json", str(out), "--kill", "worker@4", "--kill", "worker@12"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=540,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    killed = result["killed"]
    assert [k["role"] for k in killed] == ["worker", "worker"]
    assert all(k["pid"] for k in killed), killed
    states = {s["id"]: s["state"] for s in result["sites"]}
    assert states == SEED_EXPECTED, proc.stdout[-3000:]
    assert result["mail"]["duplicate_notices"] == 0
    for site in result["sites"]:
        if site["state"] == "closed":
            assert site["reporter_notified"], site["id"]
