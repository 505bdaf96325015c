"""``takedown evidence``: take evidence screenshots (when they run apart from ``monitor``)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from takedown.monitor.tasks import evidence_consume


class Command(BaseCommand):
    help = "Take the queued evidence screenshots with headless Chromium (stops on SIGTERM)."

    def handle(self, *args: Any, **opts: Any) -> None:
        stop = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        evidence_consume(stop)
