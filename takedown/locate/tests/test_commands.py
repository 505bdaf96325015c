"""`takedown contacts` and `takedown locate` as a user runs them: JSON out, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from takedown.lib.testdata import require_shared

pytestmark = pytest.mark.concurrency

REPO = Path(__file__).resolve().parents[3]


def takedown(*args: str, data_dir: Path, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "TAKEDOWN_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": ""}
    env.pop("DJANGO_SETTINGS_MODULE")
    return subprocess.run(
        [sys.executable, "-m", "takedown.cli", *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        timeout=120,
    )


def test_contacts_reads_a_saved_rdap_answer(tmp_path: Path) -> None:
    path = require_shared("data/rdap/whoisit/data_rdap_response_ip_v4_2.json")
    out = takedown("contacts", "--rdap", str(path), data_dir=tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert list(data)[:5] == ["abuse", "org", "country", "handle", "prefix"]
    assert data["abuse"] == ["abuse@switch.ch"]
    assert data["prefix"] == "130.59.0.0/16"


def test_contacts_reads_whois_from_stdin(tmp_path: Path) -> None:
    raw = require_shared("data/whois/domains/raw/urlowl.com").read_bytes()
    out = takedown("contacts", "--whois", "-", data_dir=tmp_path, stdin=raw)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["abuse"] == ["abuse@dynadot.com"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["contacts"], "one of the arguments --rdap --whois is required"),
        (["contacts", "--rdap", "{missing}"], "No such file"),
        (["locate", "ftp://example.com/x", "--json"], "unsupported scheme"),
        (["locate"], "the following arguments are required: url"),
    ],
)
def test_bad_input_gives_one_line_and_no_traceback(
    tmp_path: Path, args: list[str], message: str
) -> None:
    args = [a.format(missing=tmp_path / "missing") for a in args]
    out = takedown(*args, data_dir=tmp_path)
    assert out.returncode != 0
    err = out.stderr.decode()
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert message in err


@pytest.mark.parametrize(
    ("option", "content", "message"),
    [
        ("--rdap", b"<html>nope</html>", "not JSON"),
        ("--rdap", b"[1, 2]", "not an RDAP object"),
        ("--rdap", b'{"errorCode": 404, "title": "Not Found"}', "404"),
        ("--rdap", b"\xff\xfe\x00garbage", "not JSON"),
        ("--whois", b"", "empty"),
        ("--whois", b"   \n\n", "empty"),
        ("--whois", b"\x00\x01\x02binary", "binary"),
    ],
)
def test_contacts_refuses_bad_files(
    tmp_path: Path, option: str, content: bytes, message: str
) -> None:
    file = tmp_path / "input"
    file.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        call_command("contacts", option, str(file), stdout=StringIO())


def test_contacts_of_garbage_whois_is_empty_not_an_error(tmp_path: Path) -> None:
    file = tmp_path / "input"
    file.write_bytes(b"::: some server said nonsense :::\n")
    out = StringIO()
    call_command("contacts", "--whois", str(file), stdout=out)
    data = json.loads(out.getvalue())
    assert data["abuse"] == [] and data["org"] is None


@pytest.mark.parametrize("url", ["not a url at all", "javascript:alert(1)", "http://", "x" * 5000])
def test_locate_refuses_what_is_not_a_url(url: str) -> None:
    with pytest.raises(CommandError):
        call_command("locate", url, "--json", stdout=StringIO())
