"""The loop's work is found in the database: written with the state, claimed once, retried."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import close_old_connections
from django.utils import timezone

from takedown import loop
from takedown.cases.attention import Reason
from takedown.cases.models import EventKind, Site, SiteState, Step, Work
from takedown.cases.services import site_transition, sites_create_bulk
from takedown.cases.work import work_claim, work_fail, work_finish, work_schedule
from takedown.handler_queue import handler_items


def make_sites(n: int, *, prefix: str = "phish") -> list[Site]:
    rows = [
        {"url": f"http://{prefix}{i}.example/", "host": f"{prefix}{i}.example",
         "registered_domain": f"{prefix}{i}.example"}
        for i in range(n)
    ]  # fmt: skip
    by_url = sites_create_bulk(rows)
    return [by_url[r["url"]] for r in rows]


@pytest.mark.django_db
def test_it_writes_the_locate_step_with_each_new_site() -> None:
    sites = make_sites(3)
    historical = sites_create_bulk(
        [{"url": "http://old.example/", "host": "old.example", "registered_domain": "old.example"}],
        historical=True,
    )["http://old.example/"]
    rows = Work.objects.filter(step=Step.LOCATE)
    assert sorted(rows.values_list("site_id", flat=True)) == sorted(s.pk for s in sites)
    assert not Work.objects.filter(site=historical).exists()
    assert all(w.due is not None and w.due <= timezone.now() for w in rows)


@pytest.mark.django_db
def test_it_writes_the_step_a_state_calls_for_with_the_state() -> None:
    (site,) = make_sites(1)
    Work.objects.all().delete()
    site_transition(site, SiteState.LOCATED, kind=EventKind.LOCATE_DONE)
    assert list(Work.objects.values_list("step", "site_id")) == [(Step.FIRST_CHECK, site.pk)]
    site_transition(site, SiteState.DOWN, kind=EventKind.SITE_DOWN)
    assert Work.objects.filter(step=Step.CLOSE, site=site).exists()
    site_transition(site, SiteState.REVIVED, kind=EventKind.SITE_REVIVED)
    assert Work.objects.filter(step=Step.NOTICE_PLAN, site=site).exists()


@pytest.mark.django_db
def test_it_claims_a_unit_once_until_its_lease_runs_out() -> None:
    (site,) = make_sites(1)
    now = timezone.now()
    first = work_claim(step=Step.LOCATE, limit=10, now=now, lease=60)
    assert [w.site_id for w in first] == [site.pk]
    assert work_claim(step=Step.LOCATE, limit=10, now=now + timedelta(seconds=59)) == []
    # The claimer died: after its lease the unit is due again, the attempt counted.
    again = work_claim(step=Step.LOCATE, limit=10, now=now + timedelta(seconds=61))
    assert [(w.site_id, w.attempts) for w in again] == [(site.pk, 2)]
    # The dead claimer's late finish is not taken for the live one's.
    work_finish(first[0])
    assert Work.objects.filter(pk=again[0].pk).exists()
    work_finish(again[0])
    assert not Work.objects.exists()


@pytest.mark.django_db
def test_it_runs_a_step_again_when_it_is_scheduled_while_running() -> None:
    (site,) = make_sites(1)
    (work,) = work_claim(step=Step.LOCATE, limit=1)
    later = timezone.now() + timedelta(minutes=10)
    work_schedule(step=Step.LOCATE, ids=[site.pk], due=later)
    work_finish(work)
    row = Work.objects.get(site=site, step=Step.LOCATE)
    assert (row.due, row.claim, row.attempts) == (later, "", 0)


@pytest.mark.django_db
def test_it_retries_a_failing_step_with_backoff_then_asks_a_handler(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.WORK_MAX_ATTEMPTS = 3
    settings.WORK_RETRY_BASE = 10
    (site,) = make_sites(1)
    Work.objects.all().delete()
    site_transition(site, SiteState.LOCATED, kind=EventKind.LOCATE_DONE)
    site_transition(site, SiteState.DOWN, kind=EventKind.SITE_DOWN)
    Work.objects.exclude(step=Step.CLOSE).delete()

    def broken(ids: list[int]) -> None:
        raise RuntimeError(f"mail templates missing for {ids}")

    monkeypatch.setitem(loop.HANDLERS, Step.CLOSE, loop.Handler(broken, lambda: 10))
    now = timezone.now()
    dues = []
    for _ in range(3):
        assert loop.run_round(now=now) == 1
        row = Work.objects.get(step=Step.CLOSE)
        dues.append(row.due)
        now = row.due or now
    first, second, gave_up = dues
    assert first is not None and second is not None and gave_up is None
    assert second - first == timedelta(seconds=20)  # 10 s, then 20 s
    row = Work.objects.get(step=Step.CLOSE)
    assert row.attempts == 3 and "mail templates missing" in row.last_error
    assert loop.run_round(now=now + timedelta(days=1)) == 0
    (item,) = [i for i in handler_items() if i.reason == Reason.STEP_FAILED]
    assert item.site_id == site.pk and "close" in item.detail
    # A new decision (a handler's retry) gives the step fresh attempts.
    work_schedule(step=Step.CLOSE, ids=[site.pk])
    row.refresh_from_db()
    assert row.due is not None and row.attempts == 0


@pytest.mark.django_db
def test_it_runs_a_failing_batch_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    sites = make_sites(4)
    poison = sites[2].pk
    seen: list[list[int]] = []

    def locate(ids: list[int]) -> None:
        seen.append(list(ids))
        if poison in ids:
            raise ValueError("hostile registry answer")

    monkeypatch.setitem(loop.HANDLERS, Step.LOCATE, loop.Handler(locate, lambda: 10, True))
    assert loop.run_round() == 4
    assert seen[0] == [s.pk for s in sites] and sorted(seen[1:]) == [[s.pk] for s in sites]
    left = Work.objects.get(step=Step.LOCATE)
    assert left.site_id == poison and "hostile registry answer" in left.last_error


@pytest.mark.django_db
def test_it_lists_unresolvable_sites_only_after_their_last_retry() -> None:
    (site,) = make_sites(1)
    Work.objects.all().delete()
    site_transition(site, SiteState.UNRESOLVABLE, kind=EventKind.LOCATE_FAILED)
    work_schedule(step=Step.LOCATE, ids=[site.pk], due=timezone.now() + timedelta(hours=1))
    assert not [i for i in handler_items() if i.reason == Reason.UNRESOLVABLE]
    Work.objects.all().delete()
    (item,) = [i for i in handler_items() if i.reason == Reason.UNRESOLVABLE]
    assert item.site_id == site.pk


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_it_never_gives_one_unit_to_two_workers() -> None:
    """Two workers claim from the same rows at once; each row goes to exactly one."""
    sites = make_sites(120)
    taken: dict[str, list[int]] = {"a": [], "b": []}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def claim(name: str) -> None:
        try:
            start.wait()
            while batch := work_claim(step=Step.LOCATE, limit=7, lease=600):
                taken[name].extend(w.site_id for w in batch if w.site_id is not None)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=claim, args=(n,)) for n in taken]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    a, b = set(taken["a"]), set(taken["b"])
    assert len(taken["a"]) == len(a) and len(taken["b"]) == len(b)
    assert not a & b
    assert a | b == {s.pk for s in sites}


@pytest.mark.django_db
def test_it_fails_a_unit_without_touching_a_newer_claim() -> None:
    make_sites(1)
    now = timezone.now()
    (old,) = work_claim(step=Step.LOCATE, limit=1, now=now, lease=1)
    (new,) = work_claim(step=Step.LOCATE, limit=1, now=now + timedelta(seconds=2), lease=60)
    work_fail(old, "late error from a worker that lost its claim")
    row = Work.objects.get(pk=new.pk)
    assert row.claim == new.claim and row.last_error == ""
