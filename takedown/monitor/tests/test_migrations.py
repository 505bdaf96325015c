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


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("latest_schema_after")
def test_it_folds_old_checks_into_runs_and_keeps_every_change_of_verdict() -> None:
    from datetime import UTC, datetime, timedelta

    from takedown.cases.models import Event, Site

    old = _migrate([("monitor", "0003_other_browser")])
    OldCheck = old.get_model("monitor", "Check")
    OldWatch = old.get_model("monitor", "Watch")
    OldEvidence = old.get_model("monitor", "Evidence")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    a = Site.objects.create(url="http://a.example/", host="a.example")
    b = Site.objects.create(url="http://b.example/", host="b.example")
    # Site a: up x3, 404 x2 (confirmed down by the second), up again x1.
    seq = [("up", "up", 200)] * 3 + [("http_error", "down", 404)] * 2 + [("up", "up", 200)]
    ids = [
        OldCheck.objects.create(
            site_id=a.pk,
            at=t0 + timedelta(minutes=15 * i),
            outcome=outcome,
            verdict=verdict,
            status=status,
            ip="192.0.2.1",
            detail=f"check {i}",
        ).pk
        for i, (outcome, verdict, status) in enumerate(seq)
    ]
    # Site b: one check, alone.
    lone = OldCheck.objects.create(site_id=b.pk, at=t0, outcome="nxdomain", verdict="down").pk
    OldWatch.objects.create(site_id=a.pk, checks=6)
    OldWatch.objects.create(site_id=b.pk, checks=1)
    evidence = OldEvidence.objects.create(site_id=a.pk, check_ref_id=ids[1], url=a.url)
    down = Event.objects.create(kind="site.down", site=a, data={"check": ids[4], "streak": 2})

    new = _migrate([("monitor", "0004_check_runs")])
    Check = new.get_model("monitor", "Check")
    Watch = new.get_model("monitor", "Watch")
    Evidence = new.get_model("monitor", "Evidence")
    runs = list(
        Check.objects.filter(site_id=a.pk)
        .order_by("at")
        .values_list("id", "verdict", "count", "at", "last_at", "changed", "detail")
    )
    assert runs == [
        (ids[0], "up", 3, t0, t0 + timedelta(minutes=30), "", "check 0"),
        (ids[3], "down", 2, t0 + timedelta(minutes=45), t0 + timedelta(minutes=60),
         "outcome verdict status", "check 3"),
        (ids[5], "up", 1, t0 + timedelta(minutes=75), t0 + timedelta(minutes=75),
         "outcome verdict status", "check 5"),
    ]  # fmt: skip
    assert Check.objects.get(pk=lone).count == 1
    # What named a folded check names its run.
    assert Evidence.objects.get(pk=evidence.pk).check_ref_id == ids[0]
    down.refresh_from_db()
    assert down.data == {"check": ids[3], "streak": 2}
    assert Watch.objects.get(site_id=a.pk).run_id == ids[5]
    assert Watch.objects.get(site_id=b.pk).run_id == lone
