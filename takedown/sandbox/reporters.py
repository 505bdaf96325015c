"""Reporters: deliver a scenario's reports to the service through their channels.

Each channel is one small class with ``deliver(report) -> Delivery``; a
:class:`ReportFeeder` sends every report at its ``at`` time. The service's entry
points are all in :class:`ServiceEndpoints`, the one place to change if the web
or API routes move.

- ``email``: SMTP to the service's inbound listener, From the reporter, To the
  intake address.
- ``api``: ``POST /api/reports`` with ``Authorization: Bearer <token>``.
- ``form``: log in at ``/login/`` and post the ``/reports/new`` form (CSRF and all).
- ``cli``: run ``takedown report`` with the text on stdin.
"""

from __future__ import annotations

import http.cookiejar
import json
import logging
import os
import re
import smtplib
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import Protocol

from takedown.sandbox.scenario import Report

log = logging.getLogger(__name__)


@dataclass
class ServiceEndpoints:
    """Where the service under test takes reports. One place for every route."""

    base_url: str = "http://127.0.0.1:8000"
    api_reports_path: str = "/api/reports"
    api_sites_path: str = "/api/sites"
    api_events_path: str = "/api/events"
    login_path: str = "/login/"
    form_path: str = "/reports/new"
    api_token: str = ""
    username: str = ""
    password: str = ""
    inbound_smtp: tuple[str, int] = ("127.0.0.1", 2525)
    intake_address: str = "report@takedown.sandbox.example"
    cli: list[str] = field(default_factory=lambda: [sys.executable, "-m", "takedown.cli"])
    env: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


@dataclass
class Delivery:
    report: int
    channel: str
    at: float
    ok: bool
    detail: str = ""


class Channel(Protocol):
    name: str

    def deliver(self, report: Report) -> Delivery: ...


def _subject(report: Report) -> str:
    return report.subject or f"Phishing report from {report.reporter.name}"


class EmailChannel:
    name = "email"

    def __init__(self, endpoints: ServiceEndpoints, attempts: int = 10) -> None:
        self.endpoints = endpoints
        self.attempts = attempts

    def build(self, report: Report) -> EmailMessage:
        rep = report.reporter
        msg = EmailMessage()
        msg["From"] = formataddr((rep.name, rep.email))
        msg["To"] = self.endpoints.intake_address
        msg["Subject"] = _subject(report)
        msg["Date"] = format_datetime(_now())
        msg["Message-ID"] = make_msgid(domain=rep.email.split("@", 1)[1])
        msg.set_content(report.text)
        return msg

    def deliver(self, report: Report) -> Delivery:
        msg = self.build(report)
        host, port = self.endpoints.inbound_smtp
        # A sending MTA retries a refused connection; so does the reporter's.
        for attempt in range(self.attempts):
            try:
                with smtplib.SMTP(host, port, timeout=15) as client:
                    client.send_message(
                        msg,
                        from_addr=report.reporter.email,
                        to_addrs=[self.endpoints.intake_address],
                    )
                break
            except ConnectionRefusedError:
                if attempt + 1 == self.attempts:
                    raise
                time.sleep(0.5)
        return Delivery(report.index, self.name, 0, True, str(msg["Message-ID"]))


class ApiChannel:
    name = "api"

    def __init__(self, endpoints: ServiceEndpoints) -> None:
        self.endpoints = endpoints

    def payload(self, report: Report) -> dict[str, object]:
        rep = report.reporter
        return {
            "text": report.text,
            "subject": report.subject,
            "reporter": {
                "name": rep.name,
                "email": rep.email,
                "type": rep.type,
                "country": rep.country,
            },
        }

    def deliver(self, report: Report) -> Delivery:
        body = json.dumps(self.payload(report)).encode()
        req = urllib.request.Request(  # noqa: S310 - http(s) URL of the service under test
            self.endpoints.url(self.endpoints.api_reports_path),
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.endpoints.api_token}",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - our own service
                return Delivery(
                    report.index, self.name, 0, True, resp.read(2000).decode("utf-8", "replace")
                )
        except urllib.error.HTTPError as exc:
            return Delivery(
                report.index, self.name, 0, False, f"HTTP {exc.code}: {exc.read(500)!r}"
            )


class _CsrfForm:
    """Just enough of a browser: cookies, the CSRF token, form posts."""

    _TOKEN = re.compile(r'name="csrfmiddlewaretoken"\s+value="([^"]+)"')

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get_token(self, url: str) -> str:
        with self.opener.open(url, timeout=30) as resp:
            page = resp.read().decode("utf-8", "replace")
        m = self._TOKEN.search(page)
        if not m:
            raise RuntimeError(f"no CSRF token in {url}")
        return m.group(1)

    def post(self, url: str, fields: dict[str, str]) -> tuple[int, str]:
        token = self.get_token(url)
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
        req = urllib.request.Request(url, data=data, method="POST", headers={"Referer": url})  # noqa: S310 - http(s) URL of the service under test
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, resp.geturl()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(500).decode("utf-8", "replace")


class FormChannel:
    name = "form"

    def __init__(self, endpoints: ServiceEndpoints) -> None:
        self.endpoints = endpoints
        self._lock = threading.Lock()
        self._browser: _CsrfForm | None = None

    def _logged_in(self) -> _CsrfForm:
        with self._lock:
            if self._browser is None:
                browser = _CsrfForm()
                status, where = browser.post(
                    self.endpoints.url(self.endpoints.login_path),
                    {"username": self.endpoints.username, "password": self.endpoints.password},
                )
                if status >= 400 or where.rstrip("/").endswith(
                    self.endpoints.login_path.rstrip("/")
                ):
                    raise RuntimeError(f"form login failed ({status})")
                self._browser = browser
            return self._browser

    def fields(self, report: Report) -> dict[str, str]:
        rep = report.reporter
        return {
            "text": report.text,
            "kind": "phishing",
            "brand": "",
            "reporter_name": rep.name,
            "reporter_email": rep.email,
            "reporter_type": rep.type,
            "reporter_country": rep.country,
            "purpose": "request",
            "tlp": "amber",
        }

    def deliver(self, report: Report) -> Delivery:
        browser = self._logged_in()
        status, where = browser.post(
            self.endpoints.url(self.endpoints.form_path), self.fields(report)
        )
        ok = status < 400 and "/reports/new" not in where
        return Delivery(report.index, self.name, 0, ok, f"{status} {where}")


class CliChannel:
    name = "cli"

    def __init__(self, endpoints: ServiceEndpoints) -> None:
        self.endpoints = endpoints

    def command(self, report: Report) -> list[str]:
        rep = report.reporter
        cmd = [*self.endpoints.cli, "report", "--name", rep.name, "--email", rep.email]
        cmd += ["--type", rep.type, "--country", rep.country, "--json"]
        if report.subject:
            cmd += ["--subject", report.subject]
        return [*cmd, "-"]

    def deliver(self, report: Report) -> Delivery:
        proc = subprocess.run(
            self.command(report),
            input=report.text.encode(),
            capture_output=True,
            timeout=120,
            env={**os.environ, **self.endpoints.env},
            check=False,
        )
        detail = (proc.stdout or proc.stderr).decode("utf-8", "replace")[:2000]
        return Delivery(report.index, self.name, 0, proc.returncode == 0, detail)


def default_channels(endpoints: ServiceEndpoints) -> dict[str, Channel]:
    return {
        "email": EmailChannel(endpoints),
        "api": ApiChannel(endpoints),
        "form": FormChannel(endpoints),
        "cli": CliChannel(endpoints),
    }


class ReportFeeder:
    """Sends each report at its ``at`` (seconds after ``start()``), in a background thread."""

    def __init__(
        self, reports: tuple[Report, ...] | list[Report], channels: dict[str, Channel]
    ) -> None:
        self.reports = sorted(reports, key=lambda r: (r.at, r.index))
        self.channels = channels
        self.deliveries: list[Delivery] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started = 0.0

    def start(self) -> None:
        self.started = time.monotonic()
        self._thread = threading.Thread(
            target=self._run, name="takedown-sandbox-reporters", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=150)

    @property
    def pending(self) -> int:
        return len(self.reports) - len(self.deliveries)

    def _run(self) -> None:
        for report in self.reports:
            wait = report.at - (time.monotonic() - self.started)
            if wait > 0 and self._stop.wait(wait):
                return
            self.deliveries.append(self.deliver_now(report))

    def deliver_now(self, report: Report) -> Delivery:
        at = round(time.monotonic() - self.started, 3) if self.started else 0.0
        channel = self.channels[report.channel]
        try:
            result = channel.deliver(report)
        except Exception as exc:
            log.warning("report %d via %s failed: %s", report.index, report.channel, exc)
            result = Delivery(
                report.index, report.channel, at, False, f"{type(exc).__name__}: {exc}"
            )
        result.at = at
        return result


def _now() -> datetime:

    return datetime.now(UTC)
