"""``takedown serve --sandbox``: the scenario slowed down for people, bad input refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from takedown.sandbox.demo import scenario_paced
from takedown.sandbox.scenario import load_scenario

SEED = Path(settings.REPO_DIR) / "scenarios" / "seed-cases.yaml"


def test_it_stretches_every_time_of_the_scenario_but_not_its_counts() -> None:
    plain = load_scenario(str(SEED))
    slow = scenario_paced(plain, 8)
    assert slow.duration == plain.duration * 8
    assert slow.settings["check_interval"] == plain.settings["check_interval"] * 8
    assert slow.settings["confirm_down"] == plain.settings["confirm_down"]
    assert [r.at * 8 for r in plain.reports] == [r.at for r in slow.reports]
    for before, after in zip(plain.organizations, slow.organizations, strict=True):
        assert after.behavior.reply_after == before.behavior.reply_after * 8
        if before.behavior.takedown_after is not None:
            assert after.behavior.takedown_after == before.behavior.takedown_after * 8
    revived = [
        (a.revive_after, b.revive_after) for a, b in zip(plain.sites, slow.sites, strict=True)
    ]
    assert all(b == a * 8 for a, b in revived if a is not None)
    assert any(a is not None for a, _ in revived)


def test_it_refuses_a_missing_scenario_or_a_bad_pace(tmp_path: Path) -> None:
    with pytest.raises(CommandError):
        call_command("serve", "--sandbox", str(tmp_path / "nope.yaml"))
    with pytest.raises(CommandError):
        call_command("serve", "--sandbox", str(SEED), "--pace", "0")
