"""Child processes that cannot outlive their supervisor (``takedown serve``).

Two mechanisms, because either alone leaves a gap:

1. On Linux, each child asks the kernel for a signal when its parent dies
   (``prctl(PR_SET_PDEATHSIG)``, called through ctypes between fork and exec),
   so even a SIGKILL of the supervisor reaches every role at once.
2. Everywhere, the supervisor holds the write end of a pipe whose read end each
   child inherits; ``watch_supervisor`` (run by ``takedown.cli`` when
   ``TAKEDOWN_SUPERVISOR_FD`` is set) waits for end-of-file, which the kernel
   delivers when the supervisor is gone however it ended, then stops the
   process: SIGTERM first (a role finishes what it is doing), then, after a
   grace period, an immediate exit.

Without these, a supervisor killed by the OOM killer or ``kill -9`` left web,
worker, mail and monitor running unsupervised, and the next ``takedown serve``
failed on the web port.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ENV_FD = "TAKEDOWN_SUPERVISOR_FD"
PR_SET_PDEATHSIG = 1
GRACE = 10.0


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    return getattr(libc, "prctl", None)


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn`` that makes the child get ``sig`` when this process dies.

    The library is looked up here, before the fork: only the call itself runs
    in the child.  A parent that died between fork and prctl is caught by
    comparing the parent id afterwards.
    """
    prctl = _prctl()
    parent = os.getpid()

    def preexec() -> None:
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def watch_supervisor(fd: int, *, grace: float = GRACE) -> threading.Thread:
    """Stop this process when the supervisor holding the pipe's other end is gone."""

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(fd, 4096):
                pass  # the supervisor never writes; any data is ignored
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        os._exit(1)

    thread = threading.Thread(target=watch, name="supervisor-watch", daemon=True)
    thread.start()
    return thread


def watch_from_environment() -> None:
    """Called at the start of every ``takedown`` command: watch when supervised."""
    value = os.environ.pop(ENV_FD, "")
    if value.isdigit():
        watch_supervisor(int(value))


def children_of(pid: int) -> dict[int, list[str]]:
    """The running children of ``pid`` with their command lines (Linux ``/proc``)."""
    found: dict[int, list[str]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            # The command name may contain spaces and parentheses: split after the last ")".
            ppid = int(stat.rpartition(")")[2].split()[1])
            if ppid != pid:
                continue
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        found[int(entry.name)] = [part.decode(errors="replace") for part in cmdline if part]
    return found
