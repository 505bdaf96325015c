"""``takedown token create USER [--name N] [--limit ROLE] [--create-user [--role ROLE]]``.

Issues an API token and prints it once (only its hash is kept).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from takedown.access.roles import Role
from takedown.web.services import token_issue, user_create


class Command(BaseCommand):
    help = "Issue an API bearer token for a user."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["create"])
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")
        parser.add_argument(
            "--limit",
            choices=Role.values,
            default="",
            help="the most the token may do (default: its owner's role)",
        )
        parser.add_argument("--create-user", action="store_true", help="create the user if missing")
        parser.add_argument(
            "--role",
            choices=Role.values,
            default=Role.HANDLER.value,
            help="role of a user made by --create-user (default: handler)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        users = get_user_model()
        user = users.objects.filter(username=opts["username"]).first()
        if user is None:
            if not opts["create_user"]:
                raise CommandError(f"no user {opts['username']!r}")
            user = user_create(username=opts["username"], role=Role(opts["role"]), actor="cli")
        _, token = token_issue(user=user, name=opts["name"], limit=opts["limit"], actor="cli")
        self.stdout.write(token)
