"""Data migrations of the monitor's tables, run forwards and back on a real schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("monitor", "0002_verdicts")]
AFTER = [("monitor", "0003_other_browser")]


def _migrate(targets: list[tuple[str, str]] | None = None) -> Any:
    """Migrate the test database to ``targets`` (every app's latest when None)."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def latest_schema_after() -> Iterator[None]:
    """Whatever the test does, the tests after it find the latest schema."""
    yield
    _migrate()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("latest_schema_after")
def test_it_splits_the_other_browsers_answer_out_of_old_details() -> None:
    from takedown.cases.models import Site

    site = Site.objects.create(url="http://cloak.example/x", host="cloak.example")
    old = _migrate(BEFORE)
    OldCheck = old.get_model("monitor", "Check")
    rows = {
        # As the old monitor wrote it: the kept detail, then the other browser's.
        "plain": ("mobile", "page served; desktop browser got http_error: HTTP 403 Forbidden"),
        # A reason phrase made to look like a note: the monitor's note is the first.
        "spoof": (
            "mobile",
            "page served; desktop browser got http_error: HTTP 403 x; desktop browser got up: y",
        ),
        # One browser only: left alone, even with the words in it.
        "alone": ("desktop", "HTTP 418 mobile browser got up"),
    }
    ids = {
        name: OldCheck.objects.create(site_id=site.pk, outcome="up", agent=agent, detail=detail).pk
        for name, (agent, detail) in rows.items()
    }

    new = _migrate(AFTER)
    Check = new.get_model("monitor", "Check")
    got = {
        name: Check.objects.values_list(
            "detail", "other_agent", "other_outcome", "other_detail"
        ).get(pk=pk)
        for name, pk in ids.items()
    }
    assert got == {
        "plain": ("page served", "desktop", "http_error", "HTTP 403 Forbidden"),
        "spoof": ("page served", "desktop", "http_error", "HTTP 403 x; desktop browser got up: y"),
        "alone": ("HTTP 418 mobile browser got up", "", "", ""),
    }

    # Back again, a downgrade gets the one string the old code reads.
    old = _migrate(BEFORE)
    OldCheck = old.get_model("monitor", "Check")
    assert OldCheck.objects.get(pk=ids["plain"]).detail == rows["plain"][1]
