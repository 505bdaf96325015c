"""``takedown makemessages``: Django's, with the options this project's catalogues need.

- ``--no-location`` by default: source line numbers in the catalogue change with
  every edit and make merges of parallel work conflict for nothing.
- no fuzzy matching: msgmerge would otherwise guess a translation for a new
  string from a similar old one ("notice sent" from "not sent"), and a
  guessed translation is worse than none (tests fail on untranslated and
  fuzzy entries, so a new string cannot go unnoticed).
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    msgmerge_options = [*makemessages.Command.msgmerge_options, "--no-fuzzy-matching"]

    def handle(self, *args: Any, **options: Any) -> None:
        options["no_location"] = True
        options["ignore_patterns"] = [*options.get("ignore_patterns", []), "var", "bench"]
        super().handle(*args, **options)
