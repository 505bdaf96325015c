"""Evidence screenshots with the system's Chromium, which must reach nothing on its own."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from takedown.cases.models import Step, Work
from takedown.cases.work import work_claim, work_schedule
from takedown.loop import EVIDENCE_STEPS, run_pending, run_round
from takedown.monitor.models import Evidence, ScreenshotState
from takedown.monitor.screenshot import evidence_take_screenshot
from takedown.monitor.tests.farm import ZONE, Farm
from takedown.monitor.tests.helpers import located_site

pytestmark = [
    pytest.mark.concurrency,
    pytest.mark.django_db,
    pytest.mark.usefixtures("farm_settings"),
]


@pytest.fixture
def chromium(settings: Any) -> str:
    path = settings.CHROMIUM_PATH
    if not Path(path).exists():
        pytest.skip(f"Chromium is not installed at {path}")
    return str(path)


def pending_evidence(url: str) -> Evidence:
    site = located_site(url)
    return Evidence.objects.create(
        site=site, url=url, final_url=url, screenshot_state=ScreenshotState.PENDING
    )


def test_it_screenshots_the_page_but_lets_chromium_reach_no_private_address(
    farm: Farm, chromium: str
) -> None:
    before = farm.hits["/with-private-img"]
    evidence = pending_evidence(f"http://login.{ZONE}/with-private-img")
    evidence_take_screenshot(evidence.pk)
    evidence.refresh_from_db()
    assert evidence.screenshot_state == ScreenshotState.DONE, evidence.screenshot_error
    with evidence.screenshot.open("rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # The page itself came through our fetcher (validation fetch + Chromium's request).
    assert farm.hits["/with-private-img"] - before == 2
    assert farm.canary_hits["/canary-img"] == 0
    assert farm.canary_hits["/canary-frame"] == 0
    assert "169.254.169.254" in evidence.screenshot_error


def test_it_refuses_to_screenshot_a_page_on_a_private_address(chromium: str) -> None:
    evidence = pending_evidence(f"http://meta.{ZONE}/")
    evidence_take_screenshot(evidence.pk)
    evidence.refresh_from_db()
    assert evidence.screenshot_state == ScreenshotState.FAILED
    assert "refused" in evidence.screenshot_error
    assert not evidence.screenshot


def test_it_records_a_missing_chromium_instead_of_failing(settings: Any) -> None:
    settings.CHROMIUM_PATH = "/nonexistent/chromium"
    evidence = pending_evidence(f"http://login.{ZONE}/no-chromium")
    evidence_take_screenshot(evidence.pk)
    evidence.refresh_from_db()
    assert evidence.screenshot_state == ScreenshotState.FAILED
    assert "not installed" in evidence.screenshot_error


def test_it_makes_the_screenshot_a_step_of_the_first_up_check(
    settings: Any, chromium: str, django_capture_on_commit_callbacks: Any
) -> None:
    from takedown.monitor.tests.helpers import check_round

    settings.SCREENSHOTS = True
    site = located_site(f"http://login.{ZONE}/queued-screenshot")
    check_round(django_capture_on_commit_callbacks)
    evidence = Evidence.objects.get(site=site)
    assert evidence.screenshot_state == ScreenshotState.PENDING
    # Written with the evidence, in the check's transaction: nothing to lose.
    assert Work.objects.filter(step=Step.SCREENSHOT, site=site, due__isnull=False).exists()
    # ``takedown worker`` runs the loop's steps and leaves the pictures alone ...
    run_pending()
    assert Work.objects.filter(step=Step.SCREENSHOT, site=site).exists()
    # ... to the evidence worker, which takes it and is done with the step.
    assert run_pending(steps=EVIDENCE_STEPS) == 1
    evidence.refresh_from_db()
    assert evidence.screenshot_state == ScreenshotState.DONE, evidence.screenshot_error
    assert not Work.objects.filter(step=Step.SCREENSHOT).exists()


def test_a_screenshot_claimed_by_a_worker_that_died_is_taken_after_its_lease(
    settings: Any, chromium: str
) -> None:
    evidence = pending_evidence(f"http://login.{ZONE}/orphaned-screenshot")
    work_schedule(step=Step.SCREENSHOT, ids=[evidence.site_id])
    now = timezone.now()
    # A worker claims the step and dies: nothing recorded, the lease runs on.
    assert work_claim(step=Step.SCREENSHOT, limit=1, now=now)
    assert run_round(steps=EVIDENCE_STEPS, now=now) == 0
    later = now + timedelta(seconds=settings.WORK_LEASE + 1)
    assert run_round(steps=EVIDENCE_STEPS, now=later) == 1
    evidence.refresh_from_db()
    assert evidence.screenshot_state == ScreenshotState.DONE, evidence.screenshot_error
    assert not Work.objects.filter(step=Step.SCREENSHOT).exists()


def test_it_guards_chromium_requests_even_without_the_resolver_rule(
    farm: Farm, chromium: str, settings: Any
) -> None:
    """The route guard alone keeps Chromium off private addresses (the resolver rule
    would also stop them: each layer is tested on its own)."""
    import asyncio

    from takedown.monitor.policy import fetch_policy
    from takedown.monitor.screenshot import CHROMIUM_ARGS, capture

    args = [a for a in CHROMIUM_ARGS if not a.startswith("--host-resolver-rules")]
    png, refused = asyncio.run(
        capture(
            f"http://login.{ZONE}/with-private-img",
            policy=fetch_policy(),
            chromium_path=chromium,
            timeout=20,
            chromium_args=args,
        )
    )
    assert png.startswith(b"\x89PNG")
    assert farm.canary_hits["/canary-img"] == 0
    assert any("canary-img" in url for url in refused)
