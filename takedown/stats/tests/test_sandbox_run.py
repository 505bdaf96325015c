"""The seed's six cases run end to end in the sandbox give statistics that agree with the run."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.concurrency


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_it_agrees_with_a_seed_cases_run(
    seed_cases_run: tuple[Any, dict[str, Any]],
) -> None:
    _, run = seed_cases_run
    stats = run["stats"]
    sites = [s for s in run["sites"] if s["state"] != "missing"]
    noticed = [s for s in sites if s["notices"]]
    down = [s for s in noticed if s["time_to_down_s"] is not None]

    orgs = stats["organizations"]
    assert sum(o["sites"] for o in orgs) == len(noticed)
    assert sum(o["closed"] for o in orgs) == len(down)
    assert stats["survival"]["all"]["sites"] == len(noticed)
    assert stats["survival"]["all"]["closed"] == len(down)
    # Every organisation that was noticed appears, under its name.
    assert {o["org"] for o in orgs} == {s["org"] for s in noticed}
    for o in orgs:
        assert o["closure_rate"] == pytest.approx(o["closed"] / o["sites"], abs=0.001)
        hours = o["closure_hours"]
        if o["closed"]:
            assert 0 <= hours["min"] <= hours["avg"] <= hours["max"]
        else:  # no closure yet: no time to closure, not a zero
            assert hours == {"avg": None, "min": None, "max": None}
    # Every report and every site counted once.
    reports = sum(stats["reports_by_month"].values())
    assert reports == sum(
        n for year in stats["reporters"].values() for sides in year.values() for n in sides.values()
    )
    assert sum(n for year in stats["admins"].values() for n in year.values()) == len(sites)
    # Reporters told only about sites that went down.
    assert stats["feedback"]["told"] <= stats["feedback"]["down"]
    # Cases 3 and 4: a second site on the same address / server is a recurrence.
    assert stats["recurrence"]["linked_sites"] >= 2
