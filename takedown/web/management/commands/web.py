"""``takedown web``: the web UI and API under waitress (a production WSGI server)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve the web UI and the JSON API."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)

    def handle(self, *args: Any, **opts: Any) -> None:
        from waitress import serve
        from whitenoise import WhiteNoise  # noqa: F401  (static files come through the middleware)

        from takedown.wsgi import application

        serve(
            application,
            host=opts["host"],
            port=opts["port"],
            threads=opts["threads"],
            ident="takedown",
            # Sandbox scenarios and bulk API clients send many small requests.
            connection_limit=500,
            _quiet=True,
        )
