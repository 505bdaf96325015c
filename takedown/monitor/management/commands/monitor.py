"""``takedown monitor``: the looping checker that ``takedown serve`` starts.

Several may run at once (on one machine or several): each claims its own due
checks.  SIGTERM or Ctrl-C ends the current round and stops.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from takedown.monitor.runner import Monitor, monitor_once
from takedown.monitor.tasks import evidence_consume, evidence_huey


class Command(BaseCommand):
    help = "Check due sites in a loop (stops on SIGTERM); also takes the evidence screenshots."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="run rounds until nothing is due, then exit"
        )
        parser.add_argument("--batch", type=int, default=None, help="sites claimed per round")
        parser.add_argument("--idle", type=float, default=None, help="seconds to sleep when idle")
        parser.add_argument(
            "--no-evidence",
            action="store_true",
            help="do not take screenshots here (run `takedown evidence` elsewhere)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["once"]:
            count = monitor_once(batch_size=opts["batch"])
            self.stdout.write(f"{count} checks recorded")
            return
        stop = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        worker = None
        if not opts["no_evidence"] and not evidence_huey.immediate:
            worker = threading.Thread(
                target=evidence_consume, args=(stop,), name="evidence", daemon=True
            )
            worker.start()
        Monitor(batch_size=opts["batch"]).run(stop, idle=opts["idle"])
        if worker is not None:
            worker.join(timeout=60)
