"""``takedown monitor``: the looping checker that ``takedown serve`` starts.

Several may run at once (on one machine or several): each claims its own due
checks.  SIGTERM or Ctrl-C ends the current round and stops.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from takedown.loop import EVIDENCE_STEPS, Worker
from takedown.monitor.runner import Monitor, monitor_once


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
        evidence = None
        if not opts["no_evidence"]:
            # The screenshots' own worker: one thread, so one Chromium at a time.
            evidence = threading.Thread(
                target=Worker(threads=1, steps=EVIDENCE_STEPS).run,
                args=(stop,),
                name="evidence",
                daemon=True,
            )
            evidence.start()
        Monitor(batch_size=opts["batch"]).run(stop, idle=opts["idle"])
        if evidence is not None:
            evidence.join(timeout=60)
