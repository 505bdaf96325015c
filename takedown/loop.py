"""The loop: which step does the work each state calls for, and the worker that runs it.

The whole loop in one place (docs/architecture.md draws it)::

    report stored ............ Step.ACK ........ notices.reporter_ack
    site reported ............ Step.LOCATE ..... locate.sites_locate
        -> located | unresolvable (retried at LOCATE_RETRY_DELAYS, then a handler item)
    site located ............. Step.FIRST_CHECK  monitor.sites_schedule
        -> the monitor's own loop claims the check (``Site.next_check``)
    first check up, revived .. Step.NOTICE_PLAN  notices.notice_plan_site
        -> the mail loop composes, sends, follows up, escalates (``Notice`` and
           ``OutboxMessage`` due times)
    site down (confirmed) .... Step.CLOSE ...... notices.site_close
        -> reporters told (outbox), site closed, watched for revival
    evidence stored .......... Step.SCREENSHOT . monitor.sites_screenshot
        (run by the evidence worker, not by ``takedown worker``)

The states' side of this map is ``cases.models.STEP_ON_ENTRY``: entering a
state writes its ``Work`` row in the same transaction (``cases.work``).  This
module sits above the steps, imports them, and is imported by none of them.

``run_round`` claims what is due for every step and runs it; ``Worker`` runs
rounds in a few threads until told to stop (``takedown worker``, started by
``takedown serve``); ``run_pending`` runs rounds until nothing is due (tests,
``takedown worker --once``).  All three run ``LOOP_STEPS`` unless told
otherwise; the screenshots (``EVIDENCE_STEPS``) have a worker of their own, one
thread in ``takedown monitor`` or ``takedown evidence``, so that a page slow in
Chromium never holds back a notice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections

from takedown.cases.models import Step, Work
from takedown.cases.work import steps_due, work_claim, work_extend, work_fail, work_finish
from takedown.lib.failpoints import failpoint
from takedown.locate.services import sites_locate
from takedown.monitor.screenshot import sites_screenshot
from takedown.monitor.services import sites_schedule
from takedown.notices.planning import notice_plan_site
from takedown.notices.reporters import reporter_ack, site_close

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Handler:
    """How a step runs: ``run`` takes the ids of the objects its claimed rows name.

    ``batch`` rows are claimed at once; with ``together`` they go to ``run`` in
    one call (locating 500 sites shares DNS and registry lookups), otherwise
    one call per row.
    """

    run: Callable[[list[int]], object]
    batch: Callable[[], int]
    together: bool = False


def _each(fn: Callable[[int], object]) -> Callable[[list[int]], object]:
    def run(ids: list[int]) -> None:
        for pk in ids:
            fn(pk)

    return run


HANDLERS: dict[Step, Handler] = {
    Step.LOCATE: Handler(sites_locate, lambda: settings.LOCATE_BATCH_SIZE, together=True),
    Step.FIRST_CHECK: Handler(sites_schedule, lambda: 500, together=True),
    Step.NOTICE_PLAN: Handler(_each(notice_plan_site), lambda: 50),
    Step.CLOSE: Handler(_each(site_close), lambda: 50),
    Step.ACK: Handler(_each(reporter_ack), lambda: 50),
    # One at a time: each screenshot starts a Chromium (a few hundred MB).
    Step.SCREENSHOT: Handler(sites_screenshot, lambda: 1),
}
EVIDENCE_STEPS: tuple[Step, ...] = (Step.SCREENSHOT,)
LOOP_STEPS: tuple[Step, ...] = tuple(step for step in Step if step not in EVIDENCE_STEPS)


class Claims:
    """The claim tokens a process holds, for its lease renewals."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, int] = {}

    def add(self, token: str) -> None:
        with self._lock:
            self._tokens[token] = self._tokens.get(token, 0) + 1

    def discard(self, token: str) -> None:
        with self._lock:
            left = self._tokens.get(token, 0) - 1
            if left > 0:
                self._tokens[token] = left
            else:
                self._tokens.pop(token, None)

    def tokens(self) -> list[str]:
        with self._lock:
            return list(self._tokens)


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def run_claimed(step: Step, claimed: Sequence[Work], *, now: datetime | None = None) -> int:
    """Run ``step`` for the claimed rows; finish or fail each one.

    A batch that raises is run again one row at a time, so one poisonous site
    (or a bug it triggers) fails alone instead of holding back the others.
    """
    handler = HANDLERS[step]
    if handler.together and len(claimed) > 1:
        try:
            handler.run([w.target_id for w in claimed])
        except Exception:
            log.exception(
                "step %s failed for a batch of %d; running them one by one", step, len(claimed)
            )
        else:
            failpoint(f"work.{step}.ran")
            for work in claimed:
                work_finish(work)
            return len(claimed)
    for work in claimed:
        try:
            handler.run([work.target_id])
        except Exception as exc:
            log.exception("step %s failed for %s", step, work)
            if work_fail(work, _error(exc), now=now):
                log.error("step %s for %s gave up after %d attempts", step, work, work.attempts)
        else:
            failpoint(f"work.{step}.ran")
            work_finish(work)
    return len(claimed)


def run_round(
    *,
    now: datetime | None = None,
    claims: Claims | None = None,
    steps: Iterable[Step] = LOOP_STEPS,
) -> int:
    """Claim what is due for each step and run it; returns how many rows were run."""
    done = 0
    due = steps_due(now)
    for step in steps:
        if step not in due:
            continue
        claimed = work_claim(step=step, limit=HANDLERS[step].batch(), now=now)
        if not claimed:
            continue
        token = claimed[0].claim
        if claims is not None:
            claims.add(token)
        try:
            failpoint(f"work.{step}.claimed")
            done += run_claimed(step, claimed, now=now)
        finally:
            if claims is not None:
                claims.discard(token)
    return done


def run_pending(
    *, now: datetime | None = None, max_rounds: int = 100, steps: Iterable[Step] = LOOP_STEPS
) -> int:
    """Run rounds until nothing is due (what a worker would do, in this thread)."""
    steps = tuple(steps)
    total = 0
    for _ in range(max_rounds):
        done = run_round(now=now, steps=steps)
        if not done:
            break
        total += done
    return total


class Worker:
    """``threads`` threads running rounds of ``steps``, and one renewing the leases they hold."""

    def __init__(
        self,
        *,
        threads: int | None = None,
        idle: float | None = None,
        steps: Iterable[Step] = LOOP_STEPS,
    ) -> None:
        self.threads = threads or settings.WORKER_THREADS
        self.idle = settings.WORKER_IDLE if idle is None else idle
        self.steps = tuple(steps)
        self.claims = Claims()

    def run(self, stop: threading.Event) -> None:
        workers = [
            threading.Thread(target=self._loop, args=(stop,), name=f"worker-{n}", daemon=True)
            for n in range(self.threads)
        ]
        renew = threading.Thread(target=self._renew, args=(stop,), name="lease", daemon=True)
        for thread in [*workers, renew]:
            thread.start()
        for thread in [*workers, renew]:
            thread.join()

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            done = 0
            try:
                done = run_round(claims=self.claims, steps=self.steps)
            except Exception:
                # A database outage must not end the worker: the next round tries again.
                log.exception("worker round failed")
            finally:
                close_old_connections()
            if not done:
                stop.wait(self.idle)

    def _renew(self, stop: threading.Event) -> None:
        interval = settings.WORK_LEASE / 3
        while not stop.wait(interval):
            try:
                work_extend(self.claims.tokens())
            except Exception:
                log.exception("renewing the work leases failed")
            finally:
                close_old_connections()
