"""``takedown probe`` and ``takedown monitor`` as an operator runs them."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from takedown.cases.models import SiteState
from takedown.lib.waiting import wait_until
from takedown.monitor.models import Check
from takedown.monitor.tests.conftest import PipelineCalls
from takedown.monitor.tests.farm import ZONE, Farm
from takedown.monitor.tests.helpers import located_site, move

pytestmark = pytest.mark.concurrency

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.django_db
@pytest.mark.usefixtures("farm_settings")
def test_it_probes_sites_and_prints_the_summary(
    handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any
) -> None:
    up = located_site(f"http://login.{ZONE}/probe-up")
    gone = located_site(f"http://login.{ZONE}/gone404?probe")
    nx = located_site(f"http://nothere.{ZONE}/probe")
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        # By id, and by URL as handlers paste it (defanged).
        defanged = nx.url.replace("http://", "hxxp://").replace(".example", "[.]example")
        call_command("probe", str(up.pk), str(gone.pk), defanged, stdout=out)
    text = out.getvalue()
    assert text.rstrip().endswith("3 sites: 1 up, 2 down")
    assert "hxxp://login[.]bank[.]example/probe-up" in text
    assert "http://" not in text
    assert "nxdomain" in text
    assert Check.objects.count() == 3
    # Probing acts like a round: the first check decided each site.
    up.refresh_from_db()
    gone.refresh_from_db()
    assert gone.state == SiteState.ALREADY_DOWN
    assert handoffs.of("site_seen_up") == [up.pk]


@pytest.mark.django_db
@pytest.mark.usefixtures("farm_settings")
def test_it_probes_every_monitored_site_with_all_and_as_json() -> None:
    located_site(f"http://login.{ZONE}/probe-all-a")
    b = located_site(f"http://login.{ZONE}/probe-all-b")
    rejected = located_site(f"http://login.{ZONE}/probe-all-rejected")
    move(rejected, SiteState.REJECTED, force=True)
    cloaked = located_site(f"http://cloak.{ZONE}/cloak")
    out, err = io.StringIO(), io.StringIO()
    call_command("probe", "--all", "--json", stdout=out, stderr=err)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["outcome"] for r in rows] == ["up", "up", "up"]
    assert rows[1]["site"] == b.pk
    assert (rows[1]["agent"], rows[1]["other_agent"]) == ("desktop", "")
    # The cloaked page turned the desktop browser away: both answers are in the row.
    assert rows[2]["site"] == cloaked.pk
    assert (rows[2]["agent"], rows[2]["other_agent"], rows[2]["other_outcome"]) == (
        "mobile",
        "desktop",
        "http_error",
    )
    assert err.getvalue().strip() == "3 sites: 3 up, 0 down"


@pytest.mark.django_db
def test_it_rejects_probe_without_sites_or_with_unknown_ones() -> None:
    with pytest.raises(CommandError, match="name the sites"):
        call_command("probe")
    with pytest.raises(CommandError, match="no such site: 999"):
        call_command("probe", "999")
    # Neither is an id ("²".isdigit() is true; 30 digits overflow a key): both are
    # looked up as URLs and not found, rather than raising inside the query.
    for name in ("²", "9" * 30):
        with pytest.raises(CommandError, match="no such site"):
            call_command("probe", name)
    with pytest.raises(CommandError, match="not both"):
        call_command("probe", "--all", "1")


def _env(farm: Farm, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    env.update(
        {
            "TAKEDOWN_DATA_DIR": str(data_dir),
            "TAKEDOWN_ALLOW_LOOPBACK_TARGETS": "1",
            "TAKEDOWN_DNS_RESOLVER": f"127.0.0.1:{farm.dns.port}",
            "TAKEDOWN_HTTP_PORT": str(farm.http_port),
            "TAKEDOWN_SCREENSHOTS": "0",
            "TAKEDOWN_MONITOR_IDLE": "0.1",
            "DJANGO_SETTINGS_MODULE": "takedown.settings",
        }
    )
    env.pop("DATABASE_URL", None)
    return env


def test_it_runs_the_monitor_loop_until_sigterm(farm: Farm, tmp_path: Path) -> None:
    env = _env(farm, tmp_path)
    takedown = [sys.executable, "-m", "takedown.cli"]
    subprocess.run([*takedown, "migrate", "-v0"], env=env, check=True, cwd=REPO, timeout=120)
    # One quick site, and one that trickles for a minute: SIGTERM comes while
    # the second is still being fetched, and must not wait for it.
    env["TAKEDOWN_FETCH_TIMEOUT"] = env["TAKEDOWN_FETCH_READ_TIMEOUT"] = "90"
    script = (
        "from django.utils import timezone;"
        "from takedown.cases.models import Site;"
        "[Site.objects.create(url=u, host='login.bank.example', registered_domain='bank.example',"
        "state='located', next_check=timezone.now()) for u in"
        f" ('http://login.{ZONE}/from-the-loop', 'http://login.{ZONE}/slow')]"
    )
    subprocess.run([*takedown, "shell", "-c", script], env=env, check=True, cwd=REPO, timeout=60)
    proc = subprocess.Popen([*takedown, "monitor"], env=env, cwd=REPO)
    try:
        db = tmp_path / "takedown.sqlite3"

        def first_outcome() -> str | None:
            with sqlite3.connect(db, timeout=5) as conn:
                row = conn.execute("SELECT outcome FROM monitor_check").fetchone()
            return row[0] if row else None

        assert wait_until(first_outcome, timeout=60, what="the first check") == "up"
        assert proc.poll() is None
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert time.monotonic() - started < 10
        with sqlite3.connect(db, timeout=5) as conn:
            (count,) = conn.execute("SELECT count(*) FROM monitor_check").fetchone()
        assert count == 1  # the trickling site was left for the next monitor
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
