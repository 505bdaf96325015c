"""The monitor loop: claim due checks, run them concurrently, record them.

Threads:
- the caller's thread does every database operation (claims, Checks, state
  changes), so tests run it inside their transaction and SQLite sees one
  writer per process;
- one background thread runs an asyncio loop with a shared :class:`Fetcher`
  (global and per-host limits live there); checks are submitted to it and
  their Observations come back as futures.

A round (``run_round``) claims up to ``batch_size`` sites, submits them all,
and records results in chunks as they complete.  It returns whether it found
work, so ``run`` loops without sleeping while there is a backlog and tests call
it directly.  A round lasts at most about two fetch timeouts (a desktop and a
phone try); the claims' leases are renewed while it waits, so a slow round
(many sites, per-host limits, a busy database) is never claimed twice.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections

from takedown.lib.failpoints import failpoint
from takedown.lib.fetch import Fetcher, FetchPolicy, FetchResult
from takedown.monitor import services
from takedown.monitor.checker import Observation, Target, observe
from takedown.monitor.models import Check
from takedown.monitor.policy import fetch_policy

log = logging.getLogger(__name__)

RECORD_CHUNK = 200


class Monitor:
    def __init__(self, *, batch_size: int | None = None, policy: FetchPolicy | None = None) -> None:
        self.batch_size = batch_size or settings.MONITOR_BATCH
        self.policy = policy or fetch_policy()
        self.max_download = settings.FETCH_MAX_DOWNLOAD
        self.tmp_dir = services.evidence_tmp_dir()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._fetcher: Fetcher | None = None
        self.checks_recorded = 0
        # Set by ``run``'s caller (SIGTERM): a round in progress stops waiting.
        self.stopping = threading.Event()

    # --- the fetch thread ---

    def start(self) -> None:
        if self._loop is not None:
            return
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="monitor-fetch", daemon=True)
        self._thread.start()
        ready.wait()
        self._loop = loop
        self._fetcher = self._call(self._open_fetcher())

    async def _open_fetcher(self) -> Fetcher:
        return Fetcher(self.policy)

    def _call(self, coro: Any) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self) -> None:
        if self._loop is None:
            return
        if self._fetcher is not None:
            self._call(self._fetcher.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop.close()
        self._loop = None
        self._fetcher = None

    def __enter__(self) -> Monitor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- rounds ---

    def run_round(self) -> bool:
        """Claim due sites, check them, record the results; False when nothing was due."""
        targets = services.checks_claim(self.batch_size)
        if not targets:
            return False
        failpoint("monitor.claimed")
        self.check_targets(targets)
        return True

    def check_targets(self, targets: Sequence[Target]) -> list[Check]:
        """Check ``targets`` concurrently and record each result (also used by ``probe``).

        The whole batch goes to the fetch thread as one coroutine; finished
        Observations come back through a queue and are recorded in chunks
        while the rest are still being fetched.
        """
        self.start()
        assert self._loop is not None and self._fetcher is not None
        fetcher = self._fetcher
        results: queue.SimpleQueue[Observation] = queue.SimpleQueue()

        async def check_one(target: Target) -> None:
            try:
                obs = await observe(
                    fetcher, target, max_download=self.max_download, tmp_dir=self.tmp_dir
                )
            except Exception as exc:
                obs = _failed(target, exc)
            results.put(obs)

        async def check_all() -> None:
            await asyncio.gather(*(check_one(t) for t in targets))

        batch = asyncio.run_coroutine_threadsafe(check_all(), self._loop)
        recorded: list[Check] = []
        buffer: list[Observation] = []
        received = 0
        # The claimed checks stay ours while this process lives, however long the
        # batch takes: their lease is renewed every third of it until each one is
        # recorded.  A killed monitor renews nothing: its checks are due again
        # after one short lease (docs/monitor.md "Claiming").
        leases = {t.site_id: t.lease for t in targets if t.lease is not None}
        renew_every = services.lease_seconds() / 3
        renew_at = time.monotonic() + renew_every

        def record(observations: list[Observation]) -> None:
            recorded.extend(services.observations_record(observations))
            for obs in observations:
                leases.pop(obs.target.site_id, None)

        while received < len(targets):
            if leases and time.monotonic() >= renew_at:
                _renew(leases)
                renew_at = time.monotonic() + renew_every
            try:
                buffer.append(results.get(timeout=0.2))
                received += 1
            except queue.Empty:
                if batch.done() and results.empty():
                    break  # the batch died (loop stopped); record what came back
                if self.stopping.is_set():
                    # Shutting down: keep what is done; the rest stay leased and
                    # are checked again (by any monitor) when the lease runs out,
                    # within TAKEDOWN_MONITOR_LEASE.
                    batch.cancel()
                    break
                if buffer:
                    # Nothing new for a moment: record the stragglers' predecessors now.
                    record(buffer)
                    buffer = []
                continue
            if len(buffer) >= RECORD_CHUNK:
                record(buffer)
                buffer = []
        if buffer:
            record(buffer)
        self.checks_recorded += len(recorded)
        return recorded

    def run(self, stop: threading.Event, *, idle: float | None = None) -> None:
        """Loop until ``stop`` is set: rounds back to back while there is work, else sleep."""
        idle = settings.MONITOR_IDLE if idle is None else idle
        self.stopping = stop
        with self:
            while not stop.is_set():
                try:
                    found = self.run_round()
                except Exception:
                    # A database hiccup (locked, restarted) must not end the monitor.
                    log.exception("monitor round failed")
                    close_old_connections()
                    found = False
                    stop.wait(min(idle * 5, 30))
                if not found:
                    close_old_connections()
                    stop.wait(idle)


def _renew(leases: dict[int, datetime]) -> None:
    """Renew the leases of the unrecorded checks of a batch, in place (site id -> marker)."""
    by_marker: dict[datetime, list[int]] = {}
    for site_id, marker in leases.items():
        by_marker.setdefault(marker, []).append(site_id)
    for marker, site_ids in by_marker.items():
        try:
            fresh = services.checks_extend(site_ids, marker=marker)
        except DatabaseError:
            # A busy or restarting database: try again at the next renewal; if the
            # lease runs out meanwhile, another claim may check these sites too
            # (a duplicate Check row, never a lost one).
            log.warning("renewing the leases of %d checks failed", len(site_ids), exc_info=True)
            continue
        for site_id in site_ids:
            leases[site_id] = fresh


def _failed(target: Target, exc: Exception) -> Observation:
    # A bug in classifying one odd page costs that check, not the worker.
    log.error("check of site %s failed", target.site_id, exc_info=exc)
    result = FetchResult(url=target.url, error="internal", detail=f"internal: {exc}"[:300])
    return Observation(
        target=target,
        outcome="internal",
        result=result,
        at=datetime.now(UTC),
        detail=result.detail,
    )


def monitor_once(batch_size: int | None = None) -> int:
    """Run rounds until nothing is due; return the number of checks recorded (tests, sandbox)."""
    with Monitor(batch_size=batch_size) as monitor:
        while monitor.run_round():
            pass
        return monitor.checks_recorded
