"""Wait for work that another thread or process does, with a deadline.

Tests (and the sandbox runner) often wait for a listener thread, a worker or a
subprocess to write something to the database.  Polling with a bare query
fails by chance: while the other side holds the write lock a read can raise
``OperationalError`` ("database is locked"; on an in-memory shared-cache SQLite
database even "database table is locked"), and PostgreSQL can drop an idle
connection.  ``wait_until`` treats those as "not yet" and keeps trying until
its deadline, so only a real stall fails the wait, with a message that says
what was awaited and what the last error was.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError

# "Busy" errors: Django's wrapper, and sqlite3's own for tests that read the
# database file of a subprocess directly.
BUSY_ERRORS: tuple[type[BaseException], ...] = (OperationalError, sqlite3.OperationalError)

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The awaited condition did not hold before the deadline.

    An AssertionError so that pytest reports it as a failed expectation.
    """


def wait_until(
    predicate: Callable[[], T],
    *,
    timeout: float = 30.0,
    interval: float = 0.05,
    what: str = "",
    between: Callable[[], object] | None = None,
    tolerate: tuple[type[BaseException], ...] = BUSY_ERRORS,
) -> T:
    """Call ``predicate`` until it returns a true value, and return that value.

    1. A database error that means "busy" (``OperationalError``) counts as a
       false result: the writer will finish and the next poll will see it.
       ``tolerate`` widens that, e.g. with ``OSError`` while a server starts.
    2. ``between`` runs after each false result (for example one round of a
       service loop that the test drives itself); its busy errors are
       tolerated the same way.
    3. After ``timeout`` seconds ``WaitTimeout`` is raised, naming ``what``
       and the last error seen, so a stall reads as a stall.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = predicate()
        except tolerate as exc:
            result, last_error = None, exc
        if result:
            return result
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise WaitTimeout(
                f"timed out after {timeout:g} s waiting for {what or predicate}{detail}"
            )
        if between is not None:
            try:
                between()
            except tolerate as exc:
                last_error = exc
        time.sleep(interval)
