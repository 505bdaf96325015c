"""``takedown worker``: runs the steps of the loop that are due (``takedown.loop``).

Several workers may run at once, on one machine or several: each claims its
own rows (docs/architecture.md).  SIGTERM or Ctrl-C lets the rounds in
progress finish, then stops.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run the due steps of the loop (locate, first check, notice planning, closing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="run until nothing is due, then exit"
        )
        parser.add_argument("--threads", type=int, default=None, help="rounds run at once")

    def handle(self, *args: Any, **opts: Any) -> None:
        from takedown.loop import Worker, run_pending

        if opts["once"]:
            self.stdout.write(f"done: {run_pending()} unit(s) of work")
            return
        stop = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        Worker(threads=opts["threads"]).run(stop)
