"""``takedown evidence``: take evidence screenshots (when they run apart from ``monitor``).

Several may run, on several machines: each claims the ``screenshot`` steps due
in the database, as ``takedown worker`` claims the loop's other steps.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from takedown.loop import EVIDENCE_STEPS, Worker


class Command(BaseCommand):
    help = "Take the due evidence screenshots with headless Chromium (stops on SIGTERM)."

    def handle(self, *args: Any, **opts: Any) -> None:
        stop = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        # One thread: each screenshot starts a Chromium of a few hundred MB.
        Worker(threads=1, steps=EVIDENCE_STEPS).run(stop)
