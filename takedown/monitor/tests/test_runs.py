"""Checks stored as runs of equal outcomes: counted, split at each change, compacted late."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from takedown.cases.models import Event, EventKind, SiteState
from takedown.monitor import services
from takedown.monitor.models import Check, Watch
from takedown.monitor.tests.farm import ZONE, Farm
from takedown.monitor.tests.helpers import check_round, located_site, make_due, move

pytestmark = [
    pytest.mark.concurrency,
    pytest.mark.django_db,
    pytest.mark.usefixtures("farm_settings"),
]


def runs_of(site: Any) -> list[Check]:
    return list(Check.objects.filter(site=site).order_by("at", "id"))


def test_it_counts_equal_checks_in_one_run(django_capture_on_commit_callbacks: Any) -> None:
    site = located_site(f"http://login.{ZONE}/run-up")
    for _ in range(3):
        make_due(site)
        assert check_round(django_capture_on_commit_callbacks) == 1
    (run,) = runs_of(site)
    assert run.count == 3
    assert run.verdict == "up"
    assert run.last_at > run.at
    assert run.changed == ""
    watch = Watch.objects.get(site=site)
    assert watch.checks == 3
    assert watch.run_id == run.pk


def test_it_starts_a_run_at_each_change_and_keeps_the_check_that_made_it(
    farm: Farm, django_capture_on_commit_callbacks: Any
) -> None:
    path = "/run-down"
    site = located_site(f"http://login.{ZONE}{path}")
    check_round(django_capture_on_commit_callbacks)
    move(site, SiteState.NOTIFIED, kind=EventKind.NOTICE_SENT)
    for mode in ["up", "404", "404", "404"]:
        farm.modes[path] = mode
        make_due(site)
        check_round(django_capture_on_commit_callbacks)
    up, down = runs_of(site)
    assert (up.verdict, up.count) == ("up", 2)
    assert (down.verdict, down.status, down.count) == ("down", 404, 3)
    # (the 404 was tried again as a phone: the other browser's answer changed too)
    assert {"outcome", "verdict", "status", "other_outcome"} <= set(down.changed_fields)
    assert down.detail.startswith("HTTP 404")
    # The timeline names the run of the check that confirmed the takedown.
    event = Event.objects.get(site=site, kind=EventKind.SITE_DOWN)
    assert event.data["check"] == down.pk
    assert Watch.objects.get(site=site).run_id == down.pk


def test_it_merges_old_runs_of_one_verdict_but_never_a_change_of_verdict() -> None:
    site = located_site(f"http://login.{ZONE}/compact")
    t0 = timezone.now() - timedelta(days=200)
    made = []
    history = [
        ("up", "192.0.2.1"),
        ("up", "192.0.2.2"),
        ("up", "192.0.2.1"),
        ("down", None),
        ("down", None),
        ("up", "192.0.2.3"),
    ]
    for i, (verdict, ip) in enumerate(history):
        made.append(
            Check.objects.create(
                site=site,
                at=t0 + timedelta(days=i),
                last_at=t0 + timedelta(days=i, hours=12),
                count=10,
                outcome="up" if verdict == "up" else "nxdomain",
                verdict=verdict,
                ip=ip,
            )
        )
    # The fifth (a second down run) is named by the timeline: it stays.
    Event.objects.create(kind=EventKind.SITE_DOWN, site=site, data={"check": made[4].pk})
    recent = Check.objects.create(site=site, at=timezone.now(), outcome="up", verdict="up")
    Watch.objects.update_or_create(site=site, defaults={"run": recent})

    merged = services.checks_compact(older_than=timezone.now() - timedelta(days=90))

    assert merged == 2
    rows = [(c.pk, c.verdict, c.count) for c in runs_of(site)]
    assert rows == [
        (made[0].pk, "up", 30),
        (made[3].pk, "down", 10),
        (made[4].pk, "down", 10),
        (made[5].pk, "up", 10),
        (recent.pk, "up", 1),
    ]
    first = Check.objects.get(pk=made[0].pk)
    assert first.last_at == made[2].last_at
    # The command does the same, with the configured retention.
    call_command("checks-compact")
