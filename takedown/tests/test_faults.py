"""Fault tests: the real service, SIGKILLed at chosen points, finishes its work once.

Each test starts ``takedown serve`` in subprocesses against the test's own
database and a sandbox in this process, files a report, kills one process at a
chosen point (a failpoint, ``takedown/lib/failpoints.py``, or the sandbox relay
holding its "250"), and checks that the loop still ends where it should: the
site closed, one notice to the abuse desk, one acknowledgement and one closure
message to the reporter (the relay records every message), and no work left.
docs/architecture.md has the table of these tests.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings

from takedown.cases.models import Site, SiteState, Work
from takedown.intake.services import ReporterInfo, report_receive
from takedown.lib.waiting import wait_until
from takedown.monitor.models import Evidence, ScreenshotState
from takedown.notices.models import (
    Notice,
    NoticeKind,
    NoticeState,
    OutboxMessage,
    OutboxState,
)
from takedown.sandbox.core import Sandbox
from takedown.tests.service import Service, pid_alive, wait_gone

pytestmark = [
    pytest.mark.fault,
    pytest.mark.concurrency,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(240),
]

SCENARIO = """
name: faults
duration: 120
seed: 1
settings: {check_interval: 0.5, confirm_down: 2, renotify_after: 600, watch_for: 600}
organizations:
  - {id: net-a, name: Example Net A, country: JP, kind: isp, registry: apnic,
     networks: [127.31.0.0/16], asn: 64631, abuse_email: abuse@net-a.example,
     behavior: {reply: never, takedown_after: 1, takedown: "404"}}
sites:
  - {id: s1, url: "http://login.bank-a.example/", ip: 127.31.0.10}
reports: []
"""
URL = "http://login.bank-a.example/"
ABUSE = "abuse@net-a.example"
REPORTER = "soc@bank-a.example"
# Fast everything: a lost claim is due again after 3 s, a message cut off in
# the middle of its SMTP transaction is given up as uncertain after 3 s.
FAST = {
    "TAKEDOWN_NOTICE_BATCH_WINDOW": "0",
    "TAKEDOWN_NOTICE_TICK": "0.2",
    "TAKEDOWN_NOTICE_SENDING_TIMEOUT": "3",
    "TAKEDOWN_WORKER_IDLE": "0.1",
    "TAKEDOWN_WORK_LEASE": "3",
    "TAKEDOWN_MONITOR_IDLE": "0.2",
    "TAKEDOWN_MONITOR_LEASE": "3",
    "TAKEDOWN_FETCH_TIMEOUT": "2",
    "TAKEDOWN_FETCH_CONNECT_TIMEOUT": "1",
    "TAKEDOWN_FETCH_READ_TIMEOUT": "1",
    "TAKEDOWN_SMTP_TIMEOUT": "5",
}
WITHOUT_WEB = "worker,mail,monitor"


@pytest.fixture
def service(sandbox_factory: Callable[..., Sandbox], tmp_path: Path) -> Iterator[Service]:
    sb = sandbox_factory(SCENARIO)
    svc = Service(sandbox=sb, data_dir=tmp_path / "service", extra_env=FAST)
    svc.data_dir.mkdir()
    try:
        yield svc
    finally:
        svc.stop()
        sb.release_replies()


def file_report() -> None:
    report_receive(
        channel="api",
        text=f"phishing: {URL.replace('http', 'hxxp')}",
        reporter=ReporterInfo(name="Bank A SOC", email=REPORTER, kind="financial"),
    )


def sent_to(sb: Sandbox, address: str) -> list[str]:
    return [m.subject for m in list(sb.outbox) if address in m.rcpt_tos]


def settled() -> bool:
    """Closed, and nothing left to do: no step due, no message waiting or in flight."""
    return (
        Site.objects.filter(url=URL, state=SiteState.CLOSED).exists()
        and not Work.objects.exists()
        and not OutboxMessage.objects.filter(
            state__in=[OutboxState.PENDING, OutboxState.SENDING]
        ).exists()
        and not Notice.objects.filter(
            state__in=[NoticeState.COLLECTING, NoticeState.QUEUED]
        ).exists()
    )


def assert_finished_once(svc: Service, *, uncertain: int = 0) -> None:
    """The loop's end: closed, one message of each kind, nothing left to do."""
    sb = svc.sandbox
    wait_until(settled, timeout=90, what="the site closed and no work left")
    notices = sent_to(sb, ABUSE)
    reporter = sent_to(sb, REPORTER)
    assert len(notices) == 1, notices
    assert len(reporter) == 2, reporter  # the acknowledgement and the closure message
    assert OutboxMessage.objects.filter(state=OutboxState.UNCERTAIN).count() == uncertain


def kill_at(svc: Service, point: str) -> int:
    """Wait for a process to stop at failpoint ``point``, SIGKILL it, return its pid."""
    pid = svc.wait_failpoint(point)
    os.kill(pid, signal.SIGKILL)
    return pid


def test_it_finishes_once_after_kills_during_locate_check_and_closing(service: Service) -> None:
    """One run, three SIGKILLs, each where a step has begun but not finished.

    1. The worker, after the registries answered and before anything was
       written: its locate row's lease runs out, ``serve`` has started a new
       worker, which locates the site.
    2. The monitor, after claiming the first check and before fetching: the
       check's lease runs out and the new monitor checks the site.
    3. The worker, after closing committed and before its row was finished:
       the closing step runs again and changes nothing.
    """
    points = ["locate.answers", "monitor.claimed", "work.close.ran"]
    service.start(TAKEDOWN_FAILPOINTS=",".join(points), only=WITHOUT_WEB)
    file_report()
    killed = [kill_at(service, point) for point in points]
    assert len(set(killed)) == 3
    assert_finished_once(service)
    log = service.log_text()
    assert log.count("worker exited with status -9") == 2, log
    assert "monitor exited with status -9" in log, log


def test_it_tells_the_reporter_once_after_a_kill_inside_closing(service: Service) -> None:
    """The worker dies in ``site_close`` with the site marked closed and the
    reporter's closure message planned, neither committed.

    While it waits there, the database still shows the site down and no
    closure message (the transaction is open); after the kill the close
    step's row is claimed again and the reporter gets one closure message.
    """
    service.start(TAKEDOWN_FAILPOINTS="close.planned", only=WITHOUT_WEB)
    file_report()
    pid = service.wait_failpoint("close.planned")
    site = Site.objects.get(url=URL)
    assert site.state == SiteState.DOWN
    assert not Notice.objects.filter(kind=NoticeKind.CLOSED).exists()
    os.kill(pid, signal.SIGKILL)
    assert_finished_once(service)
    assert Notice.objects.filter(kind=NoticeKind.CLOSED).count() == 1
    assert "worker exited with status -9" in service.log_text()


def test_it_sends_no_second_copy_after_the_mail_role_dies_before_the_250(
    service: Service,
) -> None:
    sb = service.sandbox
    service.start(only=WITHOUT_WEB)
    sb.hold_replies()
    file_report()
    # The acknowledgement reached the relay, which keeps the sender waiting.  This
    # spans the roles' start and the whole intake-to-outbox path, as the final
    # wait does, so it gets that wait's allowance (30 s ran out at load 12 on 2 cores).
    wait_until(lambda: sb.replies_held and sent_to(sb, REPORTER), timeout=90, what="a held message")
    service.kill_role("mail")
    sb.release_replies()
    assert_finished_once(service, uncertain=1)


def test_it_takes_the_screenshot_after_the_monitor_dies_holding_it(service: Service) -> None:
    """The monitor's evidence worker claims the site's screenshot and the
    monitor is killed before Chromium starts: the claim's lease runs out, the
    restarted monitor takes the picture.  (On the old Huey queue the message
    was gone with the process and the evidence stayed ``pending`` for good.)
    """
    if not Path(settings.CHROMIUM_PATH).exists():
        pytest.skip(f"no Chromium at {settings.CHROMIUM_PATH} (make test installs it)")
    service.start(
        TAKEDOWN_FAILPOINTS="work.screenshot.claimed", TAKEDOWN_SCREENSHOTS="1", only=WITHOUT_WEB
    )
    file_report()
    kill_at(service, "work.screenshot.claimed")
    assert_finished_once(service)
    evidence = Evidence.objects.get(site__url=URL)
    assert evidence.screenshot_state == ScreenshotState.DONE, evidence.screenshot_error
    assert "monitor exited with status -9" in service.log_text()


def test_it_leaves_no_role_behind_when_the_supervisor_is_killed(service: Service) -> None:
    service.start(TAKEDOWN_FAILPOINTS="locate.answers")
    roles = service.wait_roles()
    file_report()
    service.wait_failpoint("locate.answers")
    assert service.proc is not None
    service.proc.send_signal(signal.SIGKILL)
    service.proc.wait()
    wait_gone(list(roles.values()))
    # A new ``serve`` starts on the same ports and finishes the work.
    service.start()
    service.wait_roles()
    assert_finished_once(service)
    assert not any(pid_alive(p) for p in roles.values())
