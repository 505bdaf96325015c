"""``takedown token create USER [--name N]``: issue an API token (printed once)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.web.models import ApiToken


class Command(BaseCommand):
    help = "Issue an API bearer token for a user."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["create"])
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")
        parser.add_argument("--create-user", action="store_true", help="create the user if missing")

    def handle(self, *args: Any, **opts: Any) -> None:
        users = get_user_model()
        user = users.objects.filter(username=opts["username"]).first()
        if user is None:
            if not opts["create_user"]:
                raise CommandError(f"no user {opts['username']!r}")
            user = users.objects.create_user(opts["username"])
        _, token = ApiToken.issue(user=user, name=opts["name"])
        self.stdout.write(token)
