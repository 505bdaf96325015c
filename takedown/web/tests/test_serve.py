from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.concurrency


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(180)
def test_it_serves_the_login_page_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port, mail_port = free_port(), free_port()
    env = {
        **os.environ,
        "TAKEDOWN_DATA_DIR": str(tmp_path),
        "TAKEDOWN_INBOUND_SMTP": f"127.0.0.1:{mail_port}",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "takedown.cli", "serve", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        body = b""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as r:
                    body = r.read()
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else b""
                time.sleep(0.5)
        assert b'name="password"' in body
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out.decode()
    text = out.decode()
    # First start: an admin account is created and the way to log in is printed.
    assert "user 'admin', password '" in text
    assert "Stopped." in text
    # No role is left running after the supervisor exits.
    assert (
        subprocess.run(
            ["pgrep", "-f", "--", f"--port {port}"], capture_output=True, check=False
        ).returncode
        == 1
    )
