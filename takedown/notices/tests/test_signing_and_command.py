"""OpenPGP signing with a throwaway key, business-day deadlines, and the ``mail`` command."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from takedown.lib.waiting import wait_until
from takedown.notices.intervals import IntervalError, add_business_days, parse_interval
from takedown.notices.tests.conftest import SmtpSink, free_port, make_org, make_site

pytestmark = pytest.mark.concurrency

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def gnupg_home(tmp_path: Path) -> Iterator[Path]:
    """A keyring directory whose gpg-agent is stopped after the test.

    gpg starts an agent per home directory as a daemon that outlives the test
    (one more left running by every run of the suite) unless told to stop.
    """
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    yield home
    subprocess.run(
        ["gpgconf", "--homedir", str(home), "--kill", "all"], check=False, capture_output=True
    )


@pytest.mark.django_db
@pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg is not installed")
def test_it_signs_notices_with_pgp_mime(
    smtp: SmtpSink, tmp_path: Path, gnupg_home: Path, settings: Any
) -> None:
    import gnupg

    from takedown.notices.planning import notice_plan_site
    from takedown.notices.tick import mail_tick

    home = gnupg_home
    gpg = gnupg.GPG(gnupghome=str(home))
    key = gpg.gen_key(
        gpg.gen_key_input(
            name_email="takedown@csirt.example", key_type="RSA", key_length=2048, no_protection=True
        )
    )
    assert key.fingerprint
    settings.NOTICE_GPG_HOME = str(home)
    settings.NOTICE_GPG_KEY = key.fingerprint
    org = make_org("Net K", country="US")
    notice_plan_site(make_site("http://login.bank-k.example/", org).pk)
    mail_tick()
    [msg] = smtp.messages
    raw = msg.raw
    assert b"multipart/signed" in raw and b'protocol="application/pgp-signature"' in raw
    boundary = msg.message.get_boundary()
    assert boundary
    # The signed part is the bytes between the first boundary line and the CRLF before the next.
    body = raw.split(b"\r\n\r\n", 1)[1]
    delimiter = b"--" + boundary.encode()
    signed = body.split(delimiter + b"\r\n", 1)[1].split(b"\r\n" + delimiter, 1)[0]
    signature = body.split(b"-----BEGIN PGP SIGNATURE-----", 1)[1].split(
        b"-----END PGP SIGNATURE-----"
    )[0]
    sig_file = tmp_path / "sig.asc"
    sig_file.write_bytes(
        b"-----BEGIN PGP SIGNATURE-----" + signature + b"-----END PGP SIGNATURE-----\n"
    )
    verified = gpg.verify_data(str(sig_file), signed)
    assert verified.valid, verified.status
    assert verified.fingerprint == key.fingerprint
    assert b"xarf.json" in signed  # the attachment is covered by the signature


def test_it_parses_intervals() -> None:
    assert parse_interval("4h").seconds == 14400
    assert parse_interval("30s").seconds == 30
    assert parse_interval(10).seconds == 10
    assert parse_interval("2bd").business_days == 2
    for bad in ("", "2 weeks", "1.5bd", "-1h", True):
        with pytest.raises(IntervalError):
            parse_interval(bad)


def test_it_counts_japanese_business_days() -> None:
    friday = datetime(2025, 4, 25, 15, 0, tzinfo=TOKYO)  # Golden Week follows
    # Mon 28 is a weekday, Tue 29 is Showa Day.
    assert add_business_days(friday, 1).date().isoformat() == "2025-04-28"
    assert add_business_days(friday, 2).date().isoformat() == "2025-04-30"
    # From Friday 2 May: Sat, Sun, 3-6 May are holidays -> 7 May.
    assert (
        add_business_days(datetime(2025, 5, 2, 9, 0, tzinfo=TOKYO), 1).date().isoformat()
        == "2025-05-07"
    )
    saturday = datetime(2025, 6, 7, 10, 0, tzinfo=TOKYO)
    assert add_business_days(saturday, 1).isoformat() == "2025-06-10T10:00:00+09:00"


def test_it_runs_the_mail_process_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "TAKEDOWN_DATA_DIR": str(tmp_path),
        "TAKEDOWN_INBOUND_SMTP": f"127.0.0.1:{port}",
        "TAKEDOWN_SMTP_URL": f"smtp://127.0.0.1:{free_port()}",
        "TAKEDOWN_NOTICE_TICK": "0.2",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    cli = [sys.executable, "-m", "takedown.cli"]
    subprocess.run([*cli, "migrate", "--no-input", "-v", "0"], env=env, check=True, timeout=120)
    proc = subprocess.Popen([*cli, "mail"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        import smtplib

        def deliver() -> bool:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                client.sendmail(
                    "someone@isp.example",
                    ["takedown@csirt.example"],
                    b"From: someone@isp.example\r\nSubject: hello\r\n\r\nno urls here\r\n",
                )
            return True

        wait_until(deliver, timeout=60, interval=0.2, tolerate=(OSError,), what="the listener")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    assert b"mail: stopped" in out
    import sqlite3

    db = sqlite3.connect(tmp_path / "takedown.sqlite3")
    [(count, kind)] = db.execute(
        "select count(*), max(kind) from notices_inboundmessage"
    ).fetchall()
    assert count == 1 and kind == "report"
