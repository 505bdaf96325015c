from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from takedown.cases.models import Site

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db]


def test_it_reports_urls_from_arguments() -> None:
    out = StringIO()
    call_command(
        "report", "hxxp://a[.]example/x", "--type", "csirt", "--country", "JP", "--json", stdout=out
    )
    data = json.loads(out.getvalue())
    assert data["sites"][0]["url"] == "http://a.example/x"
    assert Site.objects.count() == 1


def test_it_fails_with_one_line_for_text_without_urls() -> None:
    with pytest.raises(CommandError, match="no URL found"):
        call_command("report", "just words")


def run_cli(
    args: list[str], data_dir: Path, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "TAKEDOWN_DATA_DIR": str(data_dir)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "-m", "takedown.cli", *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_it_exits_non_zero_without_a_traceback_for_bad_input(tmp_path: Path) -> None:
    assert run_cli(["migrate", "--no-input", "-v", "0"], tmp_path).returncode == 0
    result = run_cli(["report", "-"], tmp_path, stdin=b"\x00\x01binary")
    assert result.returncode != 0
    assert b"Traceback" not in result.stderr
    assert result.stderr.decode().strip().count("\n") == 0
    result = run_cli(["import", str(tmp_path / "missing.csv")], tmp_path)
    assert result.returncode != 0
    assert b"no such file" in result.stderr
    assert b"Traceback" not in result.stderr


def test_it_refuses_a_bad_environment_with_one_line(tmp_path: Path) -> None:
    env_result = subprocess.run(
        [sys.executable, "-m", "takedown.cli", "check"],
        capture_output=True,
        env={**os.environ, "TAKEDOWN_DATA_DIR": str(tmp_path), "TAKEDOWN_DEBUG": "perhaps"},
        timeout=60,
        check=False,
    )
    assert env_result.returncode == 2
    assert b"TAKEDOWN_DEBUG" in env_result.stderr
    assert b"Traceback" not in env_result.stderr


def test_it_answers_an_unknown_option_with_one_line(tmp_path: Path) -> None:
    for command in (["report"], ["import", "x.csv"], ["extract"], ["stats"], ["locate", "x"]):
        result = run_cli([*command, "--no-such-option"], tmp_path)
        assert result.returncode == 2, command
        lines = result.stderr.decode().strip().splitlines()
        assert len(lines) == 1, (command, lines)
        assert "unrecognized arguments: --no-such-option" in lines[0]
