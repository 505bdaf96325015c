"""The ``takedown`` console script: Django's management commands under one name."""

from __future__ import annotations

import os
import sys
from typing import NoReturn


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "takedown.settings")
    # A role started by ``takedown serve`` ends when its supervisor does.
    from takedown.lib.supervise import watch_from_environment

    watch_from_environment()
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.core.management.base import CommandError, CommandParser

    # argparse answers a bad option with the usage and then the error; the
    # command-line contract promises one line on stderr, so the usage is left
    # to --help.
    def one_line_error(self: CommandParser, message: str) -> NoReturn:
        if not self.called_from_command_line:
            raise CommandError(f"Error: {message}")
        self.exit(2, f"{self.prog}: error: {message}\n")

    CommandParser.error = one_line_error  # type: ignore[method-assign]

    try:
        execute_from_command_line(["takedown", *(sys.argv[1:] if argv is None else argv)])
    except ImproperlyConfigured as exc:
        # A bad environment variable: one clear line, not a traceback.
        print(f"takedown: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
