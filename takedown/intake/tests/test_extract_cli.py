"""``takedown extract``: JSON lines per CONTRACT.md, one-line errors for bad input."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.concurrency

REPORT = (
    "Phishing sites:\n"
    "1. hxxp://login.bank-a[.]example/jp/\n"
    "2. https://a.b.workers.dev/x#top\n"
    "3. hxxp://login.bank-a[.]example/jp/ (again)\n"
)


def extract(*args: str) -> list[dict[str, object]]:
    out = StringIO()
    call_command("extract", *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def run_cli(
    args: list[str], tmp_path: Path, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "TAKEDOWN_DATA_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "-m", "takedown.cli", "extract", *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_it_prints_one_json_line_per_distinct_url(tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    path.write_text(REPORT, encoding="utf-8")
    assert extract(str(path)) == [
        {
            "url": "http://login.bank-a.example/jp/",
            "host": "login.bank-a.example",
            "registered_domain": "bank-a.example",
            "defanged": True,
            "source": {"kind": "text"},
        },
        {
            "url": "https://a.b.workers.dev/x",
            "host": "a.b.workers.dev",
            "registered_domain": "b.workers.dev",
            "defanged": False,
            "source": {"kind": "text"},
        },
    ]


def test_it_reads_shift_jis_text(tmp_path: Path) -> None:
    path = tmp_path / "sjis.txt"
    path.write_bytes(
        "フィッシングサイトを報告します：http://sjis.example.co.jp/login です。".encode("cp932")
    )
    assert [u["url"] for u in extract(str(path))] == ["http://sjis.example.co.jp/login"]


def build_mail() -> bytes:
    outer = MIMEMultipart("alternative")
    outer["From"] = "soc@bank-a.example"
    outer["To"] = "abuse@takedown.example"
    outer["Subject"] = "Phishing report"
    outer["Date"] = "Tue, 01 Apr 2025 10:00:00 +0900"
    outer["Message-ID"] = "<r1@bank-a.example>"
    outer.attach(MIMEText("see hxxp://mail[.]example[.]com/a", "plain", "utf-8"))
    outer.attach(MIMEText('<a href="https://html.example.com/b">x</a>', "html", "utf-8"))
    return outer.as_bytes()


def test_it_detects_an_email_or_is_told_to(tmp_path: Path) -> None:
    path = tmp_path / "report.eml"
    path.write_bytes(build_mail())
    expected = ["http://mail.example.com/a", "https://html.example.com/b"]
    assert [u["url"] for u in extract(str(path))] == expected
    assert [u["url"] for u in extract(str(path), "--eml")] == expected
    # Too few well-known headers to be detected: only --eml decodes the body.
    terse = tmp_path / "terse.eml"
    terse.write_bytes(
        b"X-Queue-Id: 42\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(b"http://b64.example.com/")
    )
    assert extract(str(terse)) == []
    assert [u["url"] for u in extract(str(terse), "--eml")] == ["http://b64.example.com/"]


def test_it_prints_nothing_for_text_without_urls(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("no links here, just example[.]com", encoding="utf-8")
    assert extract(str(path)) == []


def test_it_fails_with_a_clear_error_for_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"cannot read .*missing\.txt: No such file"):
        call_command("extract", str(tmp_path / "missing.txt"))


def test_it_fails_with_a_clear_error_for_a_directory(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read"):
        call_command("extract", str(tmp_path))


def test_it_refuses_binary_junk(tmp_path: Path) -> None:
    path = tmp_path / "junk.bin"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(CommandError, match="binary data"):
        call_command("extract", str(path))


def test_it_works_end_to_end_on_stdin(tmp_path: Path) -> None:
    result = run_cli(["-"], tmp_path, stdin=REPORT.encode())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert [json.loads(line)["url"] for line in lines] == [
        "http://login.bank-a.example/jp/",
        "https://a.b.workers.dev/x",
    ]
    assert result.stderr == b""


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["/nonexistent/report.txt"], b"", b"cannot read /nonexistent/report.txt"),
        (["-"], b"\x00\x01\x02\xff" * 100, b"binary data"),
        (["--no-such-option"], b"", b"unrecognized arguments: --no-such-option"),
        (["a.txt", "b.txt"], b"", b"unrecognized arguments: b.txt"),
    ],
)
def test_it_exits_non_zero_with_one_line_and_no_traceback(
    tmp_path: Path, args: list[str], stdin: bytes, message: bytes
) -> None:
    result = run_cli(args, tmp_path, stdin=stdin)
    assert result.returncode != 0
    assert result.stdout == b""
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert b"Traceback" not in result.stderr
