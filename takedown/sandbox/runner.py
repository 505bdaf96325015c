"""``takedown sandbox run``: the real service against the simulated internet.

1. Start the :class:`Sandbox` for the scenario.
2. Prepare a fresh service in a temporary data directory: ``migrate``, a user
   with a password (for the web form) and an API token (for the API channel).
3. Start ``takedown serve`` (web, worker, inbound mail, monitor) as child
   processes with the sandbox's settings, and wait for the web to answer.
4. Feed the reports at their times (:class:`ReportFeeder`), poll ``GET
   /api/sites`` every half second, and stop at ``duration`` or earlier once
   every reported site is settled and nothing is pending in the sandbox.
5. Stop the service (SIGTERM to its process group, SIGKILL after a grace
   period), read ``takedown stats --format json``, and build the CONTRACT JSON
   from the service's answers and the sandbox's own records (mail it saw,
   takedowns and revivals that really happened).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from takedown.lib.supervise import children_of, die_with_parent
from takedown.sandbox.bots import refang
from takedown.sandbox.core import Sandbox
from takedown.sandbox.reporters import ReportFeeder, ServiceEndpoints, default_channels
from takedown.sandbox.scenario import Scenario

SETTLED = {"closed", "already_down", "rejected", "unresolvable"}
ROLES = ("web", "worker", "mail", "monitor")
DOWN_STATES = {"down", "closed"}
POLL_INTERVAL = 0.5


class RunError(RuntimeError):
    pass


class ServiceUnreadable(RuntimeError):
    """The service's JSON API did not answer, or answered something else than a page."""


API_PAGE = 1000


def _api_items(endpoints: ServiceEndpoints, path: str) -> Iterator[dict[str, Any]]:
    """Every item of a paged list of the service's JSON API (``path`` may carry a query)."""
    offset = 0
    sep = "&" if "?" in path else "?"
    while True:
        req = urllib.request.Request(  # noqa: S310 - http(s) URL of the service under test
            endpoints.url(f"{path}{sep}limit={API_PAGE}&offset={offset}"),
            headers={"Authorization": f"Bearer {endpoints.api_token}"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - our own service
                items = json.loads(resp.read())["items"]
        except (OSError, ValueError, KeyError, TypeError, urllib.error.URLError) as exc:
            raise ServiceUnreadable(f"{path}: {exc}") from exc
        if not isinstance(items, list):
            raise ServiceUnreadable(f"{path}: 'items' is not a list")
        yield from (item for item in items if isinstance(item, dict))
        if len(items) < API_PAGE:
            return
        offset += API_PAGE


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_env(scenario: Scenario) -> dict[str, str]:
    """Scenario ``settings`` as environment: ``check_interval`` -> ``TAKEDOWN_CHECK_INTERVAL``."""
    return {f"TAKEDOWN_{key.upper()}": _num(value) for key, value in scenario.settings.items()}


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def url_key(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return ((parts.hostname or "").lower(), parts.path or "/")


@dataclass
class ServiceProcess:
    """The service under test: its environment, data directory and child processes."""

    env: dict[str, str]
    data_dir: Path
    web_port: int
    inbound_port: int
    cli: list[str] = field(default_factory=lambda: [sys.executable, "-m", "takedown.cli"])
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def run_cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
        proc = subprocess.run(
            [*self.cli, *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise RunError(
                f"takedown {' '.join(args)} failed: {err[-1] if err else proc.returncode}"
            )
        return proc.stdout.decode("utf-8", "replace")

    def prepare(self) -> tuple[str, str, str]:
        """Migrate and make the user the reporters log in as; returns (user, password, token)."""
        self.run_cli("migrate", "--noinput")
        user, password = "sandbox", secrets.token_urlsafe(16)
        self.run_cli(
            "createsuperuser",
            "--noinput",
            "--username",
            user,
            "--email",
            "sandbox@takedown.sandbox.example",
            env={"DJANGO_SUPERUSER_PASSWORD": password},
        )
        token = self.run_cli("token", "create", user, "--name", "sandbox").strip().splitlines()[-1]
        return user, password, token

    def endpoints(self, user: str, password: str, token: str) -> ServiceEndpoints:
        """Where the reporters reach this service, logged in as ``user``."""
        return ServiceEndpoints(
            base_url=f"http://127.0.0.1:{self.web_port}",
            api_token=token,
            username=user,
            password=password,
            inbound_smtp=("127.0.0.1", self.inbound_port),
            env=self.env,
        )

    def register_reporters(self, scenario: Scenario) -> None:
        """The scenario's reporters go in the directory first, as a team knows its regulars."""
        seen: dict[str, dict[str, str]] = {}
        for report in scenario.reports:
            r = report.reporter
            seen.setdefault(
                r.email.lower(),
                {"name": r.name, "email": r.email, "type": r.type, "country": r.country},
            )
        if not seen:
            return
        path = self.data_dir / "reporters.json"
        path.write_text(json.dumps(list(seen.values())), encoding="utf-8")
        self.run_cli("reporter", "load", str(path))

    def enable_csirts(self, scenario: Scenario) -> None:
        """What an operator does for each national CSIRT the scenario stands in for."""
        for csirt in scenario.csirts:
            self.run_cli(
                "csirt",
                "enable",
                csirt.country,
                "--email",
                csirt.abuse_email,
                "--name",
                csirt.name,
            )

    def start(self) -> None:
        self.log_path = self.data_dir / "service.log"
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                *self.cli,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.web_port),
                "--no-migrate",
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            # A ``sandbox run`` killed outright (a test's timeout, kill -9)
            # must not leave the service it started running on its own.
            preexec_fn=die_with_parent(),
        )
        log.close()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RunError(
                    f"takedown serve exited with {self.proc.returncode}; see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/login/", timeout=2):
                    break
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        else:
            raise RunError("takedown serve did not answer within 90 s")
        # The inbound mail listener starts beside the web; reports by e-mail and the
        # organisations' mail need it. A service without one still runs.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.alive():
            try:
                socket.create_connection(("127.0.0.1", self.inbound_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill_role(self, role: str) -> int | None:
        """SIGKILL one role of ``serve`` (which starts it again); its pid, if it ran."""
        assert self.proc is not None
        for pid, cmd in children_of(self.proc.pid).items():
            # [python, "-m", "takedown.cli", role, ...]
            if cmd[3:4] == [role]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                return pid
        return None

    def stop(self) -> None:
        """SIGTERM ``serve`` (it stops its roles), SIGKILL after a grace period.

        ``serve``'s roles cannot outlive it (``takedown.lib.supervise``), so
        ending ``serve`` however it ends also ends them.
        """
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=25)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class ScenarioRun:
    def __init__(
        self,
        scenario: Scenario,
        *,
        keep: bool = False,
        echo: Any = None,
        kills: list[tuple[str, float]] | None = None,
    ) -> None:
        self.scenario = scenario
        self.keep = keep
        self.echo = echo or (lambda msg: None)
        # (role, seconds into the run): SIGKILLed then, ``serve`` starts it again.
        self.kills = sorted(kills or [], key=lambda k: k[1])
        self.killed: list[dict[str, Any]] = []
        self.observed: dict[tuple[str, str], dict[str, Any]] = {}
        # Why the run ended: "settled" (every site settled, nothing pending) or
        # "duration" (the scenario's time ran out first).
        self.stopped = ""
        self.transitions: dict[tuple[str, str], list[tuple[float, str]]] = {}
        # Times each site entered ``revived``, from the service's own timeline.
        self.revivals_detected: dict[tuple[str, str], int] = {}

    def run(self) -> dict[str, Any]:
        data_dir = Path(tempfile.mkdtemp(prefix="takedown-run-"))
        sandbox = Sandbox(self.scenario, workdir=data_dir / "sandbox")
        service: ServiceProcess | None = None
        feeder: ReportFeeder | None = None
        try:
            sandbox.start()
            self.echo(
                f"sandbox up: {len(self.scenario.sites)} sites, "
                f"{len(self.scenario.organizations)} organisations"
            )
            web_port, inbound_port = free_port(), free_port()
            env = {
                **os.environ,
                **sandbox.env(),
                **settings_env(self.scenario),
                "TAKEDOWN_DATA_DIR": str(data_dir / "service"),
                "TAKEDOWN_INBOUND_SMTP": f"127.0.0.1:{inbound_port}",
                "TAKEDOWN_SITE_URL": f"http://127.0.0.1:{web_port}",
                "TAKEDOWN_WORKER_IDLE": "0.2",
                # A role killed during the run (``--kill``) leaves its claims
                # for seconds, not the production minute: the run is fast time.
                "TAKEDOWN_WORK_LEASE": "5",
                "TAKEDOWN_MONITOR_LEASE": "5",
                "TAKEDOWN_LOG_LEVEL": os.environ.get("TAKEDOWN_LOG_LEVEL", "WARNING"),
            }
            env.pop("DJANGO_SETTINGS_MODULE", None)
            # Every run starts from an empty SQLite database in its own data
            # directory: the scenario's outcome must not depend on, or change,
            # a database the operator's service uses.
            env.pop("DATABASE_URL", None)
            service = ServiceProcess(
                env=env, data_dir=data_dir, web_port=web_port, inbound_port=inbound_port
            )
            user, password, token = service.prepare()
            service.register_reporters(self.scenario)
            service.enable_csirts(self.scenario)
            service.start()
            self.echo(f"service up on http://127.0.0.1:{web_port}/")
            sandbox.set_inbound("127.0.0.1", inbound_port)
            endpoints = service.endpoints(user, password, token)
            feeder = ReportFeeder(self.scenario.reports, default_channels(endpoints))
            offset = sandbox.now()
            feeder.start()
            self._watch(sandbox, service, feeder, endpoints, offset)
            self.revivals_detected = self._revivals(endpoints)
            feeder.stop()
            service.stop()
            stats = self._stats(service)
            return self.result(sandbox, feeder, stats, offset)
        finally:
            if feeder is not None:
                feeder.stop()
            if service is not None:
                service.stop()
            sandbox.stop()
            if not self.keep:
                shutil.rmtree(data_dir, ignore_errors=True)
            else:
                self.echo(f"kept {data_dir}")

    # --- polling ---

    def _watch(
        self,
        sandbox: Sandbox,
        service: ServiceProcess,
        feeder: ReportFeeder,
        endpoints: ServiceEndpoints,
        offset: float,
    ) -> None:
        deadline = time.monotonic() + self.scenario.duration
        self.stopped = "duration"
        while time.monotonic() < deadline:
            if not service.alive():
                raise RunError(f"the service stopped during the run; see {service.log_path}")
            now = sandbox.now() - offset
            while self.kills and now >= self.kills[0][1]:
                role, at = self.kills.pop(0)
                pid = service.kill_role(role)
                self.killed.append({"role": role, "at": at, "pid": pid})
                self.echo(f"killed {role} (pid {pid}) at {now:.1f} s")
            for item in self.poll_sites(endpoints):
                key = url_key(str(item.get("url", "")))
                self.observed[key] = item
                seen = self.transitions.setdefault(key, [])
                if not seen or seen[-1][1] != item.get("state"):
                    seen.append((round(now, 3), str(item.get("state"))))
            if feeder.pending == 0 and self._settled(sandbox):
                self.stopped = "settled"
                return
            time.sleep(POLL_INTERVAL)

    def poll_sites(self, endpoints: ServiceEndpoints) -> list[dict[str, Any]]:
        """Every site the service knows, through the JSON API (what it could read
        if the service stopped answering part-way: the next poll reads again)."""
        items: list[dict[str, Any]] = []
        with contextlib.suppress(ServiceUnreadable):
            items.extend(_api_items(endpoints, endpoints.api_sites_path))
        return items

    def _revivals(self, endpoints: ServiceEndpoints) -> dict[tuple[str, str], int]:
        """How often each site entered ``revived``, counted in the service's timeline.

        Not from the polled states: ``revived`` lasts only until the new notice
        is sent, often less than one poll, so sampling missed revivals that the
        service did detect (seen on a loaded machine).  One query for every
        site's ``site.revived`` events (the only way into ``revived``), not one
        per site: a scenario can have thousands.  A service that does not answer
        counts no revival, which the run's result shows against the sandbox's.
        """
        key_of = {item.get("id"): key for key, item in self.observed.items()}
        seen: set[Any] = set()
        counts: dict[tuple[str, str], int] = {}
        with contextlib.suppress(ServiceUnreadable):
            for event in _api_items(
                endpoints, f"{endpoints.api_events_path}?who=all&kind=site.revived"
            ):
                # Pages are newest first by offset: one that arrives between two
                # pages shifts the next, so the same event can come twice.
                if event.get("id") in seen or event.get("to_state") != "revived":
                    continue
                seen.add(event.get("id"))
                key = key_of.get(event.get("site_id"))
                if key is not None:
                    counts[key] = counts.get(key, 0) + 1
        return counts

    def _settled(self, sandbox: Sandbox) -> bool:
        if sandbox.pending:
            return False
        for site in self.scenario.sites:
            item = self.observed.get(url_key(site.url))
            if item is None or item.get("state") not in SETTLED:
                return False
        return True

    def _stats(self, service: ServiceProcess) -> dict[str, Any]:
        try:
            return dict(json.loads(service.run_cli("stats", "--format", "json", timeout=120)))
        except (RunError, ValueError, subprocess.TimeoutExpired) as exc:
            return {"error": str(exc)}

    # --- the result ---

    def result(
        self, sandbox: Sandbox, feeder: ReportFeeder, stats: dict[str, Any], offset: float
    ) -> dict[str, Any]:
        scenario = self.scenario
        reported_at: dict[str, float] = {}
        for delivery in feeder.deliveries:
            report = scenario.reports[delivery.report]
            text = refang(report.text).lower()
            for site in scenario.sites:
                if site.host in text and site.id not in reported_at:
                    reported_at[site.id] = delivery.at
        renotify = scenario.settings.get("renotify_after", 0.0)
        notice_times: dict[str, list[float]] = {}
        # A duplicate is the same site notified to the same address again before
        # the follow-up deadline with no revival in between.  A re-send to the
        # next contact after a bounce reaches another address and is not one.
        duplicates = 0
        last_for: dict[tuple[str, str], float] = {}
        revival_times = {
            e.detail.get("site"): e.at - offset for e in sandbox.events if e.kind == "revived"
        }
        for notice in sandbox.notices:
            at = notice["at"] - offset
            for sid in notice["sites"]:
                notice_times.setdefault(sid, []).append(at)
                counted = False
                for rcpt in notice["rcpts"]:
                    key = (rcpt.lower(), sid)
                    prev = last_for.get(key)
                    revived_between = prev is not None and prev <= revival_times.get(sid, -1) <= at
                    if (
                        not counted
                        and prev is not None
                        and at - prev < max(renotify * 0.9, 0.5)
                        and not revived_between
                    ):
                        duplicates += 1
                        counted = True
                    last_for[key] = at
        reporter_text = {
            addr: [refang(m.text()).lower() + " " + m.subject.lower() for m in msgs]
            for addr, msgs in sandbox.reporter_mail.items()
        }
        sites_out = []
        for site in scenario.sites:
            key = url_key(site.url)
            item = self.observed.get(key) or {}
            org = scenario.org_for_site(site)
            rt = sandbox.site(site.id)
            transitions = self.transitions.get(key, [])
            first_notice = min(notice_times.get(site.id, []), default=None)
            down_seen = next((t for t, state in transitions if state in DOWN_STATES), None)
            reporters = {
                r.reporter.email for r in scenario.reports if site.host in refang(r.text).lower()
            }
            notified = any(
                site.host in text for addr in reporters for text in reporter_text.get(addr, [])
            )
            abuse = sorted(
                {rcpt for n in sandbox.notices if site.id in n["sites"] for rcpt in n["rcpts"]}
            )
            escalations = [e for e in sandbox.escalations if site.id in e["sites"]]
            sites_out.append(
                {
                    "id": site.id,
                    "url": site.url,
                    "state": item.get("state", "missing"),
                    "org": item.get("organization"),
                    "org_kind": org.kind,
                    "expected_org": org.name,
                    "abuse": abuse,
                    "notices": len(notice_times.get(site.id, [])),
                    "revivals": rt.revivals,
                    "revivals_detected": self.revivals_detected.get(key, 0),
                    "first_notice_s": _round(
                        first_notice - reported_at[site.id]
                        if first_notice is not None and site.id in reported_at
                        else None
                    ),
                    "time_to_down_s": _round(
                        down_seen - first_notice
                        if down_seen is not None and first_notice is not None
                        else None
                    ),
                    "reporter_notified": notified,
                    "escalations": len(escalations),
                    "escalated_to": list(dict.fromkeys(e["party"] for e in escalations)),
                    "transitions": transitions,
                    "sandbox_status": rt.status,
                }
            )
        notices_sent = sum(
            1 for m in sandbox.outbox if any(scenario.org_for_address(r) for r in m.rcpt_tos)
        )
        return {
            "scenario": scenario.name,
            "stopped": self.stopped,
            "sites": sites_out,
            "mail": {
                "notices_sent": notices_sent,
                "escalations_sent": len({e["message_id"] for e in sandbox.escalations}),
                "duplicate_notices": duplicates,
                "reporter_messages": sum(len(v) for v in sandbox.reporter_mail.values()),
                "bot_messages": len(sandbox.bot_mail),
                "bot_messages_delivered": sum(1 for m in sandbox.bot_mail if m.delivered),
            },
            "reports": [
                {
                    "index": d.report,
                    "channel": d.channel,
                    "at": d.at,
                    "ok": d.ok,
                    "detail": d.detail[:300],
                }
                for d in feeder.deliveries
            ],
            "queries": {
                "rdap": dict(sandbox.rdap_queries),
                "whois": dict(sandbox.whois_queries),
                "dns": dict(sandbox.dns_queries),
            },
            "stats": stats,
            "killed": list(self.killed),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def summary(result: dict[str, Any]) -> str:
    lines = [f"scenario {result['scenario']}"]
    lines.append(
        f"{'site':<6} {'state':<13} {'notices':>7} {'revived':>7} "
        f"{'notice_s':>8} {'down_s':>7}  org"
    )
    for s in result["sites"]:
        lines.append(
            f"{s['id']:<6} {s['state']:<13} {s['notices']:>7} {s['revivals']:>7} "
            f"{_fmt(s['first_notice_s']):>8} {_fmt(s['time_to_down_s']):>7}  {s['org'] or '-'}"
        )
    mail = result["mail"]
    lines.append(
        f"notices sent {mail['notices_sent']}, duplicates {mail['duplicate_notices']}, "
        f"reporter messages {mail['reporter_messages']}, organisation mail {mail['bot_messages']}"
    )
    failed = [r for r in result["reports"] if not r["ok"]]
    if failed:
        lines.append(
            f"{len(failed)} report(s) could not be delivered: "
            + "; ".join(f"#{r['index']} {r['channel']}: {r['detail'][:80]}" for r in failed)
        )
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
