"""The seed's six cases end the same when the worker is SIGKILLed twice during the run."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from takedown.monitor.tests.test_sandbox import SEED_EXPECTED
from takedown.sandbox.testing import REPO_ROOT, SEED_SCENARIO


@pytest.mark.fault
@pytest.mark.concurrency
@pytest.mark.timeout(600)
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
         "--json", str(out), "--keep", "--kill", "worker@4", "--kill", "worker@12"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=540,
    )  # fmt: skip
    # The run's directory (the service's log and database) is kept for a
    # failure to be looked into, and removed when the run ends as it should.
    kept = re.search(r"^kept (\S+)$", proc.stdout, re.MULTILINE)
    run_dir = Path(kept.group(1)) if kept else None
    log = run_dir / "service.log" if run_dir else None
    why = f"{proc.stdout[-3000:]}\nservice log ({run_dir}):\n" + (
        log.read_text(errors="replace")[-4000:] if log and log.exists() else "-"
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + why
    result = json.loads(out.read_text())
    killed = result["killed"]
    assert [k["role"] for k in killed] == ["worker", "worker"]
    assert all(k["pid"] for k in killed), killed
    states = {s["id"]: s["state"] for s in result["sites"]}
    assert states == SEED_EXPECTED, why
    orgs = {s["id"]: s["org"] for s in result["sites"] if s["org"] != s["expected_org"]}
    assert not orgs, why
    assert result["mail"]["duplicate_notices"] == 0
    for site in result["sites"]:
        if site["state"] == "closed":
            assert site["reporter_notified"], site["id"]
    if run_dir is not None:
        shutil.rmtree(run_dir, ignore_errors=True)
