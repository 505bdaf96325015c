"""The verdict rule on its own: down only on positive evidence."""

from __future__ import annotations

import pytest

from takedown.monitor.models import Outcome
from takedown.monitor.outcomes import verdict


@pytest.mark.parametrize(
    ("outcome", "status", "expected"),
    [
        ("up", 200, "up"),
        ("nxdomain", None, "down"),
        ("no_address", None, "down"),
        ("dns_error", None, "inconclusive"),
        ("refused", None, "down"),
        ("content_gone", 200, "down"),
        ("http_error", 404, "down"),
        ("http_error", 410, "down"),
        ("http_error", 451, "down"),
        ("http_error", 403, "inconclusive"),
        ("http_error", 401, "inconclusive"),
        ("http_error", 429, "inconclusive"),
        ("http_error", 500, "inconclusive"),
        ("http_error", 503, "inconclusive"),
        ("http_error", 302, "inconclusive"),
        ("http_error", None, "inconclusive"),
        ("timeout", None, "inconclusive"),
        ("timeout", 200, "inconclusive"),
        ("unreachable", None, "inconclusive"),
        ("tls_error", None, "inconclusive"),
        ("redirect_loop", 302, "inconclusive"),
        ("error", None, "inconclusive"),
        ("blocked", None, "inconclusive"),
        ("internal", None, "inconclusive"),
    ],
)
def test_it_judges_each_outcome(outcome: str, status: int | None, expected: str) -> None:
    assert verdict(outcome, status) == expected


def test_it_judges_every_outcome_the_model_knows() -> None:
    # A new outcome must be placed deliberately: only the listed ones are ever down.
    down_without_status = {o for o in Outcome.values if verdict(o, None) == "down"}
    assert down_without_status == {"nxdomain", "no_address", "refused", "content_gone"}
