"""``takedown stats`` and ``takedown monthly-report`` as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from takedown.stats.tests.history import History, jst

pytestmark = pytest.mark.concurrency


@pytest.fixture
def history(db, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    settings.STATS_CLOSED_DAYS = []
    h = History()
    net = h.org("Net A")
    h.case(net, jst(2025, 6, 2, 10), timedelta(hours=6), brand="Bank [red]x[/red]")
    h.case(net, jst(2025, 6, 3, 10), timedelta(minutes=20), brand="=1+1")
    h.case(net, jst(2025, 6, 9, 10), timedelta(days=3))  # Monday -> Thursday
    return h


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("stats", *args, stdout=out)
    return out.getvalue()


def test_it_prints_the_contract_json(history):
    data = json.loads(run("--fy", "2025", "--format", "json"))
    assert {"reports_by_month", "reporters", "admins", "organizations"} <= set(data)
    assert list(data["reporters"]) == ["FY2025"]
    assert set(data["admins"]["FY2025"]) == {"isp", "company", "school", "overseas", "other"}
    (org,) = data["organizations"]
    assert set(org) >= {
        "org", "replies", "reply_rate", "closure_hours", "closure_business_days",
        "sites_per_month", "closure_rate", "notices", "sites",
    }  # fmt: skip
    assert org["closure_hours"]["min"] == pytest.approx(1 / 3, abs=0.01)
    assert set(org["closure_hours"]) == {"avg", "min", "max"}


def test_it_prints_tables_as_the_seed_writes_them(history):
    text = run("--fy", "FY2025")
    assert "Phishing site closure response" in text
    assert "20 min" in text
    assert "3 business days" in text
    assert "Phishing reporters (by type)" in text
    assert "IP address administrators" in text
    # A brand is text, not rich markup.
    brands = run("--fy", "2025", "--table", "brands")
    assert "Bank [red]x[/red]" in brands


def test_it_prints_tables_in_japanese(history):
    text = run("--fy", "2025", "--lang", "ja", "--table", "organizations")
    assert "Net A" in text


def test_it_prints_one_csv_per_table(history, tmp_path):
    text = run("--fy", "2025", "--format", "csv", "--table", "organizations")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["org", "type", "country", "replies"]
    assert rows[1][0] == "Net A"
    out = run("--format", "csv", "--all", "--output-dir", str(tmp_path / "csv"))
    assert "CSV file(s)" in out
    names = sorted(p.name for p in (tmp_path / "csv").iterdir())
    assert "organizations.csv" in names and "reporters.csv" in names and "brands.csv" in names
    brands = (tmp_path / "csv" / "brands.csv").read_text()
    # A spreadsheet must not run a formula from a reported brand.
    assert "'=1+1" in brands
    every = run("--format", "csv")
    assert "# reports_by_month" in every and "# organizations" in every


@pytest.mark.parametrize(
    "args, message",
    [
        (["--fy", "banana"], "not a fiscal year"),
        (["--fy", "20255"], "not a fiscal year"),
        (["--output-dir", "/tmp/x"], "goes with --format csv"),
    ],
)
def test_it_rejects_bad_options(db, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_it_prints_no_traceback_for_bad_input(db, tmp_path):
    # The console script, in a fresh process, with its own empty database.
    env = {"TAKEDOWN_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    takedown = Path(sys.executable).with_name("takedown")
    subprocess.run([str(takedown), "migrate", "-v0"], env=env, check=True, timeout=120)
    done = subprocess.run(
        [str(takedown), "stats", "--fy", "nope"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "not a fiscal year" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    done = subprocess.run(
        [str(takedown), "stats", "--format", "json"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["organizations"] == []


@pytest.mark.parametrize("month", ["2025-13", "June", "2025-6-1"])
def test_it_rejects_a_bad_month_for_the_report(db, month):
    with pytest.raises(CommandError, match="not a month"):
        call_command("monthly-report", month, "--html", "-")


def test_it_refuses_a_report_into_a_missing_folder(db, tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("monthly-report", "2025-06", "--html", str(tmp_path / "no" / "r.html"))
