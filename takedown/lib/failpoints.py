"""Named points where a fault test stops a process, to kill it there.

A fault test (``takedown/tests/test_faults.py``) sets ``TAKEDOWN_FAILPOINTS``
to the names it wants, e.g. ``locate.answers``, and ``TAKEDOWN_FAILPOINT_DIR``
to a directory of its own.  The first process to reach a listed point creates
``<dir>/<name>`` holding its pid and then waits there until it is killed; the
file makes each point fire once per test, so the process that takes over the
work goes through.  With no point listed (always, outside fault tests) a
failpoint is one set lookup.

The points (docs/architecture.md, "Fault tests"):
- ``work.<step>.claimed``: a worker claimed rows of that step, nothing done yet;
- ``work.<step>.ran``: the step committed, its rows not yet finished;
- ``locate.answers``: the registries answered, nothing recorded yet;
- ``monitor.claimed``: the monitor claimed due checks, nothing fetched yet;
- ``close.planned``: ``site_close`` marked the site closed and planned the
  reporters' closure message, in a transaction not yet committed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.conf import settings


def failpoint(name: str) -> None:
    if name not in settings.FAILPOINTS:
        return
    path = Path(settings.FAILPOINT_DIR) / name
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.write(fd, f"{os.getpid()}\n".encode())
    os.close(fd)
    while True:
        time.sleep(3600)
