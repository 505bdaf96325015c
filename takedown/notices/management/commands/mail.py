"""``takedown mail``: inbound listener, IMAP poller and the notices loop, in one process.

The loop composes notices whose batching window closed, follows up and
escalates threads whose deadline passed, and flushes the outbox; it sleeps
``NOTICE_TICK`` seconds when a round found nothing to do.  SIGTERM or SIGINT
stops it after the current round: the listener closes, in-flight messages
finish storing, and the IMAP poller stops.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

log = logging.getLogger("takedown.notices.mail")


class Command(BaseCommand):
    help = "Receive mail (SMTP/LMTP listener, IMAP poller) and send notices (outbox, follow-ups)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-listener", action="store_true", help="do not listen for inbound mail"
        )
        parser.add_argument("--no-loop", action="store_true", help="do not send or follow up")
        parser.add_argument(
            "--once", action="store_true", help="run one round of the loop and exit"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        from takedown.notices.listener import configured_poller, run_imap_poller, start_listener
        from takedown.notices.tick import mail_tick

        stop = threading.Event()
        if opts["once"]:
            work = mail_tick()
            self.stdout.write(f"done: {work} unit(s) of work")
            return

        def on_signal(signum: int, frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

        controller = handler = None
        if not opts["no_listener"] and settings.INBOUND_SMTP:
            host, port = settings.INBOUND_SMTP
            try:
                controller, handler = start_listener(
                    host=host, port=port, lmtp=settings.INBOUND_LMTP
                )
            except Exception as exc:  # port in use, address not available
                raise CommandError(f"cannot listen on {host}:{port}: {exc}") from None
            proto = "LMTP" if settings.INBOUND_LMTP else "SMTP"
            self.stdout.write(f"Inbound {proto} listening on {host}:{port}")
        poller_thread = None
        try:
            poller = configured_poller()
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if poller is not None:
            poller_thread = threading.Thread(
                target=run_imap_poller, args=(poller, stop, settings.IMAP_INTERVAL), daemon=True
            )
            poller_thread.start()
            self.stdout.write(f"Polling IMAP {poller.host} every {settings.IMAP_INTERVAL:g}s")
        self.stdout.flush()
        try:
            while not stop.is_set():
                work = 0
                if not opts["no_loop"]:
                    try:
                        work = mail_tick()
                    except Exception:
                        # A database hiccup must not end the process; try again next round.
                        log.exception("notices loop round failed")
                    finally:
                        close_old_connections()
                if not work:
                    stop.wait(settings.NOTICE_TICK)
        finally:
            if controller is not None:
                controller.stop()
            if handler is not None:
                handler.close()
            if poller_thread is not None:
                poller_thread.join(timeout=35)
        self.stdout.write("mail: stopped")
