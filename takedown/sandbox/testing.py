"""Pytest fixtures for tests that need the simulated internet.

``sandbox`` starts the whole sandbox on ``scenarios/seed-cases.yaml`` once per
test session (about 0.1 s) and stops it at the end; tests of other apps use it
by importing the fixture into their ``conftest.py``::

    from takedown.sandbox.testing import sandbox, sandbox_factory  # noqa: F401

The session sandbox is shared: its bots really take sites down when a notice
reaches them, so a test that sends notices should use ``sandbox_factory`` with a
scenario of its own (a path, YAML text or a ``Scenario``), which is stopped when
the test ends. ``sandbox_settings`` applies the sandbox's settings to Django's
``settings`` for the duration of a test.

``start_sandbox_process`` runs the sandbox in a child process instead
(``takedown sandbox up``), for benchmarks whose servers must not share the
measuring process's GIL; ``run_scenario`` runs a whole scenario against the
service (``takedown sandbox run``) and returns its JSON result;
``seed_cases_run`` is one such run of the seed scenario, shared by the session.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from takedown.sandbox.core import Sandbox
from takedown.sandbox.scenario import Scenario, parse_scenario

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED_SCENARIO = REPO_ROOT / "scenarios" / "seed-cases.yaml"
# A test's copy of a scenario may run this long at most: the run stops as soon
# as every site is settled, so the slack costs nothing on an idle machine and
# keeps a busy CI machine from ending the run before the loop finishes.
TEST_DURATION = 300


def seed_scenario_with_slack(directory: Path, source: Path = SEED_SCENARIO) -> Path:
    """A copy of ``source`` in ``directory`` whose ``duration`` is ``TEST_DURATION``.

    The scenarios' durations are real seconds sized for a demo; a test asserts
    where every site ends, which must not depend on how busy the machine is.
    """
    import yaml

    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["duration"] = max(float(data.get("duration", 0)), TEST_DURATION)
    copy = directory / source.name
    copy.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return copy


# Environment variable -> Django setting, for tests that run the service in-process.
SETTING_NAMES = {
    "TAKEDOWN_DNS_RESOLVER": "DNS_RESOLVER",
    "TAKEDOWN_RDAP_BOOTSTRAP_URL": "RDAP_BOOTSTRAP_URL",
    "TAKEDOWN_WHOIS_SERVER": "WHOIS_SERVER",
    "TAKEDOWN_SMTP_URL": "SMTP_URL",
    "TAKEDOWN_CA_BUNDLE": "CA_BUNDLE",
    "TAKEDOWN_ALLOW_LOOPBACK_TARGETS": "ALLOW_LOOPBACK_TARGETS",
    "TAKEDOWN_HTTP_PORT": "HTTP_PORT",
    "TAKEDOWN_HTTPS_PORT": "HTTPS_PORT",
    "TAKEDOWN_SANDBOX": "SANDBOX",
    "TAKEDOWN_CDN_ASNS": "CDN_ASNS",
}


def django_settings(sb: Sandbox) -> dict[str, Any]:
    """The sandbox's settings as typed Django setting values."""
    out: dict[str, Any] = {}
    for key, value in sb.env().items():
        name = SETTING_NAMES[key]
        if name in ("DNS_RESOLVER", "WHOIS_SERVER"):
            host, _, port = value.rpartition(":")
            out[name] = (host, int(port))
        elif name in ("HTTP_PORT", "HTTPS_PORT"):
            out[name] = int(value)
        elif name in ("ALLOW_LOOPBACK_TARGETS", "SANDBOX"):
            out[name] = value == "1"
        elif name == "CDN_ASNS":
            out[name] = {
                int(asn): cdn for asn, _, cdn in (item.partition("=") for item in value.split(","))
            }
        else:
            out[name] = value
    return out


def run_scenario(
    scenario_path: Path, out: Path, *args: str, timeout: float = 300.0
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``takedown sandbox run scenario_path --json out [args]``: the process and its result.

    Fails the test, with the end of the run's stderr, unless the run succeeded.
    """
    proc = subprocess.run(
        [
            *[sys.executable, "-m", "takedown.cli", "sandbox", "run", str(scenario_path)],
            *["--json", str(out), *args],
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.read_text())
    return proc, result


def start_sandbox_process(
    scenario_path: Path,
    *,
    env: Mapping[str, str],
    workdir: Path,
    timeout: float = 300.0,
) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """Start ``takedown sandbox up scenario_path`` and wait for its settings.

    Returns the child and the ``TAKEDOWN_*`` variables it wrote; the caller
    stops the child (SIGINT or SIGTERM make it shut its servers down cleanly).
    """
    env_file = workdir / "sandbox.env"
    env_file.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "takedown.cli",
            "sandbox",
            "up",
            str(scenario_path),
            "--env-file",
            str(env_file),
        ],
        cwd=REPO_ROOT,
        env=dict(env),
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    # The command writes the file in one go, ending with a newline: until that
    # newline is there the file may be partly written.
    while not (env_file.exists() and env_file.read_text().endswith("\n")):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"the sandbox did not start (exit status {proc.returncode})")
        time.sleep(0.2)
    values: dict[str, str] = {}
    for line in env_file.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return proc, values


@pytest.fixture(scope="session")
def seed_cases_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """One whole run of the seed scenario (with slack), shared by the session's tests.

    A run takes about a minute of real time; the monitor's and the statistics'
    tests read the same run's JSON, so it runs once, when the first of them
    asks for it.  It is made available in ``takedown/conftest.py``: imported
    into each test module instead, it would be one fixture per module, run twice.
    """
    directory = tmp_path_factory.mktemp("seed-cases-run")
    return run_scenario(seed_scenario_with_slack(directory), directory / "seed.json", timeout=540)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SEED_SCENARIO) as sb:
        yield sb


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    started: list[Sandbox] = []

    def make(scenario: Scenario | str | Path, **kwargs: Any) -> Sandbox:
        if isinstance(scenario, str) and "\n" in scenario:
            scenario = parse_scenario(scenario)
        sb = Sandbox(scenario, **kwargs).start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


@pytest.fixture
def sandbox_settings(sandbox: Sandbox, settings: Any) -> Sandbox:
    """The session sandbox, with Django's settings pointing at it for this test."""
    for name, value in django_settings(sandbox).items():
        setattr(settings, name, value)
    return sandbox
