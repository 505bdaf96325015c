from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from takedown.sandbox.testing import REPO_ROOT, SEED_SCENARIO

pytestmark = pytest.mark.concurrency


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "takedown.cli", "sandbox", *args]


def test_it_prints_the_settings_and_stops_cleanly_on_ctrl_c() -> None:
    proc = subprocess.Popen(
        _cli("up", str(SEED_SCENARIO), "--http-port", "0", "--https-port", "0"),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TAKEDOWN_LOG_LEVEL": "WARNING"},
    )
    assert proc.stdout is not None
    settings: dict[str, str] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if "=" in line and not line.startswith("#"):
            key, _, value = line.strip().partition("=")
            settings[key] = value
        if "is up" in line:
            break
    assert set(settings) >= {
        "TAKEDOWN_DNS_RESOLVER",
        "TAKEDOWN_RDAP_BOOTSTRAP_URL",
        "TAKEDOWN_WHOIS_SERVER",
        "TAKEDOWN_SMTP_URL",
        "TAKEDOWN_CA_BUNDLE",
        "TAKEDOWN_ALLOW_LOOPBACK_TARGETS",
        "TAKEDOWN_HTTP_PORT",
        "TAKEDOWN_HTTPS_PORT",
    }
    smtp_port = int(settings["TAKEDOWN_SMTP_URL"].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", smtp_port), timeout=5) as s:
        assert s.recv(100).startswith(b"220 ")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "sandbox stopped" in out
    assert "Traceback" not in err
    try:
        socket.create_connection(("127.0.0.1", smtp_port), timeout=2).close()
        still_listening = True
    except ConnectionRefusedError:
        still_listening = False
    assert not still_listening
    assert not os.path.exists(settings["TAKEDOWN_CA_BUNDLE"])


def test_it_rejects_a_bad_scenario_in_one_line(tmp_path: object) -> None:
    proc = subprocess.run(
        _cli("up", "/nonexistent/scenario.yaml"),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "no such file" in proc.stderr
    assert "Traceback" not in proc.stderr
