"""Background work of the monitor.

Screenshots run on a Huey queue of their own, ``evidence_huey``, consumed by a
thread of the ``monitor`` process (or by ``takedown evidence`` on another machine): a slow
page in Chromium then never delays a notice, a locate or a check.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections
from huey import Huey, RedisHuey, SqliteHuey

log = logging.getLogger(__name__)


def _evidence_huey() -> Huey:
    immediate = bool(settings.HUEY.get("immediate", False))
    if settings.HUEY_REDIS_URL:
        return RedisHuey("takedown-evidence", url=settings.HUEY_REDIS_URL, immediate=immediate)
    return SqliteHuey(
        "takedown-evidence",
        filename=str(settings.DATA_DIR / "huey-evidence.sqlite3"),
        immediate=immediate,
    )


evidence_huey = _evidence_huey()


@evidence_huey.task()
def evidence_screenshot(evidence_id: int) -> None:
    from takedown.monitor.screenshot import evidence_take_screenshot

    evidence_take_screenshot(evidence_id)


def evidence_consume(stop: threading.Event, *, idle: float = 1.0) -> None:
    """Run screenshot tasks from ``evidence_huey`` one at a time until ``stop`` is set.

    One at a time on purpose: each screenshot starts a Chromium (a few hundred
    MB); the checks never wait for it, and a backlog only delays pictures.
    """
    while not stop.is_set():
        try:
            task = evidence_huey.dequeue()
        except Exception:
            log.exception("evidence queue unavailable")
            stop.wait(idle * 5)
            continue
        if task is None:
            stop.wait(idle)
            continue
        # This thread has its own database connection: drop it when stale.
        close_old_connections()
        try:
            evidence_huey.execute(task)
        except Exception:
            log.exception("evidence task %s failed", task)
        finally:
            close_old_connections()
