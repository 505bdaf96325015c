"""The monitor loop against the farm: outcomes, state changes, hand-offs, evidence."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import close_old_connections
from django.utils import timezone, translation

from takedown import handler_queue
from takedown.cases.attention import Reason
from takedown.cases.models import Event, EventKind, Site, SiteState, Step
from takedown.cases.services import sites_create_bulk
from takedown.lib.waiting import wait_until
from takedown.monitor import selectors, services
from takedown.monitor.models import Check, Evidence, Watch
from takedown.monitor.runner import Monitor
from takedown.monitor.tests.conftest import PipelineCalls
from takedown.monitor.tests.farm import FARM_IP, MALWARE, OTHER_IP, ZONE, Farm
from takedown.monitor.tests.helpers import check_round, located_site, make_due, move
from takedown.web.texts import ours

pytestmark = [
    pytest.mark.concurrency,
    pytest.mark.django_db,
    pytest.mark.usefixtures("farm_settings"),
]


def last_check(site: Site) -> Check:
    check = Check.objects.filter(site=site).order_by("-at", "-id").first()
    assert check is not None
    return check


def notified_then_checked(
    farm: Farm, path: str, modes: str | Sequence[str], capture: Any, rounds: int = 2
) -> Site:
    """A site seen up and notified, then checked while the farm serves ``modes``.

    One mode is served for ``rounds`` checks; a sequence of modes, one per check.
    """
    site = located_site(f"http://login.{ZONE}{path}")
    check_round(capture)
    move(site, SiteState.NOTIFIED, kind=EventKind.NOTICE_SENT)
    for mode in [modes] * rounds if isinstance(modes, str) else modes:
        farm.modes[path] = mode
        make_due(site)
        check_round(capture)
    return site


def test_it_sees_a_new_site_up_keeps_evidence_and_hands_it_to_notices(
    handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any
) -> None:
    site = located_site(f"http://login.{ZONE}/first-up")
    assert site.next_check is not None
    assert check_round(django_capture_on_commit_callbacks) == 1
    check = last_check(site)
    assert check.outcome == "up"
    assert check.status == 200
    assert check.ip == "127.0.0.2"
    assert len(check.body_hash) == 64
    assert check.latency_ms is not None
    assert handoffs.of("site_seen_up") == [site.pk]
    evidence = Evidence.objects.get(site=site)
    assert evidence.title == "Example Bank Login"
    assert evidence.has_password
    assert b"<form" in bytes(evidence.body)
    assert evidence.sha256 == check.body_hash
    assert any(k.lower() == "content-type" for k, _ in evidence.headers)
    site.refresh_from_db()
    assert site.state == SiteState.LOCATED
    assert site.next_check is not None and site.next_check > timezone.now()
    # A second up check neither hands the site over again nor adds evidence.
    make_due(site)
    check_round(django_capture_on_commit_callbacks)
    assert handoffs.of("site_seen_up") == [site.pk]
    assert Evidence.objects.filter(site=site).count() == 1


def test_it_marks_a_site_down_at_its_first_check_as_already_down(
    farm: Farm, handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any
) -> None:
    site = located_site(f"http://login.{ZONE}/gone404")
    check_round(django_capture_on_commit_callbacks)
    site.refresh_from_db()
    assert site.state == SiteState.ALREADY_DOWN
    assert last_check(site).outcome == "http_error"
    assert last_check(site).status == 404
    assert handoffs.calls == []
    assert site.watch_until is not None
    assert site.next_check is not None
    event = Event.objects.get(site=site, kind=EventKind.SITE_ALREADY_DOWN)
    assert event.to_state == SiteState.ALREADY_DOWN


def test_it_confirms_a_takedown_after_consecutive_down_checks(
    farm: Farm, handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any
) -> None:
    path = "/confirm-down"
    site = located_site(f"http://login.{ZONE}{path}")
    check_round(django_capture_on_commit_callbacks)
    site = move(site, SiteState.NOTIFIED, kind=EventKind.NOTICE_SENT)
    farm.modes[path] = "404"
    make_due(site)
    check_round(django_capture_on_commit_callbacks)
    site.refresh_from_db()
    assert site.state == SiteState.NOTIFIED
    assert Watch.objects.get(site=site).down_streak == 1
    make_due(site)
    check_round(django_capture_on_commit_callbacks)
    site.refresh_from_db()
    assert site.state == SiteState.DOWN
    assert handoffs.of("site_confirmed_down") == [site.pk]
    down = Event.objects.get(site=site, kind=EventKind.SITE_DOWN)
    assert down.to_state == "down"
    assert down.data["streak"] == 2
    assert site.watch_until is not None


def test_it_resets_the_down_streak_when_the_site_is_up_again(
    farm: Farm, handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any
) -> None:
    site = notified_then_checked(
        farm, "/flaky", ("404", "up", "404"), django_capture_on_commit_callbacks
    )
    site.refresh_from_db()
    assert site.state == SiteState.NOTIFIED
    assert handoffs.of("site_confirmed_down") == []


def test_it_notices_a_revival_within_the_watch_window(
    farm: Farm, handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any
) -> None:
    path = "/revives"
    farm.modes[path] = "404"
    site = located_site(f"http://login.{ZONE}{path}")
    check_round(django_capture_on_commit_callbacks)
    site.refresh_from_db()
    assert site.state == SiteState.ALREADY_DOWN
    assert not Evidence.objects.filter(site=site).exists()
    farm.modes[path] = "up"
    make_due(site)
    check_round(django_capture_on_commit_callbacks)
    site.refresh_from_db()
    assert site.state == SiteState.REVIVED
    assert handoffs.of("site_revived") == [site.pk]
    assert handoffs.of("site_seen_up") == []
    assert Event.objects.filter(site=site, kind=EventKind.SITE_REVIVED).count() == 1
    # Evidence is taken at the first up check, even a revival's.
    assert Evidence.objects.filter(site=site).count() == 1
    assert site.watch_until is None


@pytest.mark.parametrize(("mode", "revived"), [("up", True), ("503", False)])
def test_it_revives_a_closed_site_on_an_up_check_only(
    farm: Farm,
    handoffs: PipelineCalls,
    django_capture_on_commit_callbacks: Any,
    mode: str,
    revived: bool,
) -> None:
    path = f"/closed-then-{mode}"
    site = notified_then_checked(farm, path, "410", django_capture_on_commit_callbacks)
    site = move(site, SiteState.CLOSED, kind=EventKind.SITE_CLOSED)
    farm.modes[path] = mode
    make_due(site)
    check_round(django_capture_on_commit_callbacks)
    site.refresh_from_db()
    # An inconclusive check (here a 503) is no sign of life.
    assert site.state == (SiteState.REVIVED if revived else SiteState.CLOSED)
    assert handoffs.of("site_revived") == ([site.pk] if revived else [])


def test_it_stops_watching_after_the_watch_window(
    farm: Farm, handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any
) -> None:
    path = "/expired-watch"
    farm.modes[path] = "404"
    site = located_site(f"http://login.{ZONE}{path}")
    check_round(django_capture_on_commit_callbacks)
    Site.objects.filter(pk=site.pk).update(watch_until=timezone.now() - timedelta(seconds=1))
    farm.modes[path] = "up"
    make_due(site)
    check_round(django_capture_on_commit_callbacks)
    site.refresh_from_db()
    assert site.state == SiteState.ALREADY_DOWN
    assert site.next_check is None
    assert handoffs.of("site_revived") == []


def test_it_sees_a_suspension_page_with_status_200_as_content_gone(
    farm: Farm, handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any
) -> None:
    path = "/will-be-suspended"
    site = notified_then_checked(farm, path, "suspended", django_capture_on_commit_callbacks)
    check = last_check(site)
    assert check.outcome == "content_gone"
    assert check.status == 200
    assert "suspended" in check.detail
    site.refresh_from_db()
    assert site.state == SiteState.DOWN


def test_it_sees_an_unrelated_page_as_content_gone(
    farm: Farm, handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any
) -> None:
    path = "/replaced"
    site = located_site(f"http://login.{ZONE}{path}")
    check_round(django_capture_on_commit_callbacks)
    farm.modes[path] = "other"
    make_due(site)
    check_round(django_capture_on_commit_callbacks)
    assert last_check(site).outcome == "content_gone"


def test_it_tries_a_mobile_browser_when_the_desktop_one_is_turned_away(
    handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any
) -> None:
    site = located_site(f"http://cloak.{ZONE}/cloak")
    check_round(django_capture_on_commit_callbacks)
    check = last_check(site)
    assert check.outcome == "up"
    assert check.agent == "mobile"
    assert (check.other_agent, check.other_outcome) == ("desktop", "http_error")
    assert handoffs.of("site_seen_up") == [site.pk]


@pytest.mark.parametrize(
    ("path", "outcome"),
    [
        ("/slow", "timeout"),
        ("/loop", "redirect_loop"),
        ("/header-block", "error"),
        ("/many-headers", "error"),
        ("/reset", "error"),
        ("/status/503", "http_error"),
        ("/status/403", "http_error"),
        ("/status/500", "http_error"),
    ],
)
def test_it_never_calls_a_hostile_or_failing_site_down(
    settings: Any,
    handoffs: PipelineCalls,
    django_capture_on_commit_callbacks: Any,
    path: str,
    outcome: str,
) -> None:
    site = located_site(f"http://login.{ZONE}{path}")
    before = timezone.now()
    check_round(django_capture_on_commit_callbacks)
    check = last_check(site)
    assert check.outcome == outcome
    assert check.verdict == "inconclusive"
    # Both browsers were tried before settling for "inconclusive".
    assert (check.agent, check.other_agent, check.other_outcome) == ("desktop", "mobile", outcome)
    site.refresh_from_db()
    assert site.state == SiteState.LOCATED
    assert handoffs.calls == []
    watch = Watch.objects.get(site=site)
    assert (watch.inconclusive_streak, watch.down_streak, watch.decided) == (1, 0, False)
    assert watch.inconclusive_since == check.at
    # Tried again soon rather than at the usual interval.
    assert site.next_check is not None
    retry = timedelta(seconds=settings.INCONCLUSIVE_RETRY)
    assert site.next_check <= timezone.now() + retry
    assert site.next_check >= before + min(retry, timedelta(seconds=settings.CHECK_INTERVAL))


@pytest.mark.parametrize(
    ("url", "outcome", "status"),
    [
        (f"http://login.{ZONE}/gone404", "http_error", 404),
        (f"http://login.{ZONE}/status/410", "http_error", 410),
        (f"http://login.{ZONE}/status/451", "http_error", 451),
        (f"http://nothere.{ZONE}/", "nxdomain", None),
        ("http://noaddr.empty.example/", "no_address", None),
        (f"http://login.{ZONE}/suspended", "content_gone", 200),
        (f"http://login.{ZONE}/parked", "content_gone", 200),
    ],
)
def test_it_calls_a_site_down_on_positive_evidence(
    handoffs: PipelineCalls,
    django_capture_on_commit_callbacks: Any,
    url: str,
    outcome: str,
    status: int | None,
) -> None:
    site = located_site(url)
    check_round(django_capture_on_commit_callbacks)
    check = last_check(site)
    assert (check.outcome, check.status, check.verdict) == (outcome, status, "down")
    site.refresh_from_db()
    assert site.state == SiteState.ALREADY_DOWN
    assert handoffs.calls == []


def check_round_plain() -> None:
    with Monitor() as monitor:
        monitor.run_round()


def test_it_calls_a_closed_port_down(handoffs: PipelineCalls) -> None:
    with socket.socket() as s:
        s.bind((FARM_IP, 0))
        closed = s.getsockname()[1]
    site = located_site(f"http://login.{ZONE}:{closed}/")
    check_round_plain()
    check = last_check(site)
    assert (check.outcome, check.verdict) == ("refused", "down")
    # Refused is refused for every browser: no second try.
    assert "mobile" not in check.detail


@pytest.mark.parametrize("path", ["/cookies", "/bigheader"])
def test_it_reads_a_kit_behind_hostile_headers_and_sees_it_up(
    handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any, path: str
) -> None:
    site = located_site(f"http://login.{ZONE}{path}")
    check_round(django_capture_on_commit_callbacks)
    assert (last_check(site).outcome, last_check(site).verdict) == ("up", "up")
    assert handoffs.of("site_seen_up") == [site.pk]
    assert Evidence.objects.get(site=site).has_password


def test_it_clicks_through_a_bad_certificate_and_judges_the_page(
    handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any
) -> None:
    # The farm's certificate does not name shop.bank.example.
    site = located_site(f"https://shop.{ZONE}/")
    check_round(django_capture_on_commit_callbacks)
    check = last_check(site)
    assert (check.outcome, check.verdict, check.agent) == ("up", "up", "desktop")
    assert "certificate" in check.cert_error.lower()
    assert "certificate not valid" in check.detail
    assert handoffs.of("site_seen_up") == [site.pk]
    assert Evidence.objects.get(site=site).check_ref_id == check.pk


def test_it_keeps_a_failed_handshake_inconclusive(
    farm: Farm, handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any
) -> None:
    site = located_site(f"https://login.{ZONE}:{farm.http_port}/")
    check_round(django_capture_on_commit_callbacks)
    check = last_check(site)
    assert (check.outcome, check.verdict, check.cert_error) == ("tls_error", "inconclusive", "")
    site.refresh_from_db()
    assert site.state == SiteState.LOCATED


@pytest.mark.parametrize(
    ("path", "outcome", "verdict"),
    [("/cloak503", "up", "up"), ("/cloak503-gone", "http_error", "down")],
)
def test_it_takes_the_phone_answer_when_the_desktop_one_proves_nothing(
    django_capture_on_commit_callbacks: Any, path: str, outcome: str, verdict: str
) -> None:
    site = located_site(f"http://cloak.{ZONE}{path}")
    check_round(django_capture_on_commit_callbacks)
    check = last_check(site)
    assert (check.outcome, check.verdict, check.agent) == (outcome, verdict, "mobile")
    assert (check.other_agent, check.other_outcome) == ("desktop", "http_error")
    assert check.other_detail.startswith("HTTP 503")


@pytest.mark.parametrize("name", ["lame", "refusing"])
def test_it_neither_calls_down_nor_notifies_a_site_whose_dns_look_up_fails(
    settings: Any, handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any, name: str
) -> None:
    settings.INCONCLUSIVE_NOTIFY_AFTER = 2
    site = located_site(f"http://{name}.{ZONE}/")
    for _ in range(3):
        make_due(site)
        check_round(django_capture_on_commit_callbacks)
    check = last_check(site)
    assert (check.outcome, check.verdict) == ("dns_error", "inconclusive")
    # DNS does not depend on the browser: no second try.
    assert "mobile" not in check.detail
    site.refresh_from_db()
    assert site.state == SiteState.LOCATED
    watch = Watch.objects.get(site=site)
    assert (watch.inconclusive_streak, watch.down_streak, watch.decided) == (3, 0, False)
    # We never reached the site: it waits for a conclusive check or a handler.
    assert handoffs.calls == []


def test_it_closes_nothing_while_its_own_resolver_is_down(
    settings: Any, handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any
) -> None:
    site = located_site(f"http://login.{ZONE}/resolver-outage")
    check_round(django_capture_on_commit_callbacks)
    move(site, SiteState.NOTIFIED, kind=EventKind.NOTICE_SENT)
    # Our resolver is gone: nothing answers on its port.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        settings.DNS_RESOLVER = ("127.0.0.1", s.getsockname()[1])
    settings.DNS_TIMEOUT = 0.5
    for _ in range(settings.CONFIRM_DOWN + 1):
        make_due(site)
        check_round(django_capture_on_commit_callbacks)
    unclear = Check.objects.filter(site=site).exclude(outcome="up")
    assert {(c.outcome, c.verdict) for c in unclear} == {("timeout", "inconclusive")}
    assert all("DNS timed out" in c.detail for c in unclear)
    site.refresh_from_db()
    assert site.state == SiteState.NOTIFIED
    assert handoffs.of("site_confirmed_down") == []
    assert Watch.objects.get(site=site).down_streak == 0


def test_it_notifies_anyway_when_the_first_checks_stay_inconclusive(
    farm: Farm,
    settings: Any,
    handoffs: PipelineCalls,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.INCONCLUSIVE_NOTIFY_AFTER = 3
    path = "/unclear-at-first"
    farm.modes[path] = "503"
    site = located_site(f"http://login.{ZONE}{path}")
    for _ in range(2):
        make_due(site)
        check_round(django_capture_on_commit_callbacks)
    assert handoffs.calls == []
    make_due(site)
    check_round(django_capture_on_commit_callbacks)
    assert handoffs.of("site_seen_up") == [site.pk]
    event = Event.objects.get(site=site, kind=EventKind.SITE_UNVERIFIED)
    assert event.data["streak"] == 3
    assert event.data["outcome"] == "http_error"
    # Stored in English, said in the reader's language (takedown.web.texts).
    assert event.message.startswith("no check conclusive (3 in a row), notified on the report: ")
    with translation.override("ja"):
        assert ours(event.message).startswith("判定できる確認がないまま通知しました (3 回連続)")
    site.refresh_from_db()
    assert site.state == SiteState.LOCATED  # notices moves it when the notice leaves
    assert not Evidence.objects.filter(site=site).exists()
    # Seen at last: evidence, but no second notice.
    farm.modes[path] = "up"
    make_due(site)
    check_round(django_capture_on_commit_callbacks)
    assert Evidence.objects.filter(site=site).count() == 1
    assert handoffs.of("site_seen_up") == [site.pk]
    assert Watch.objects.get(site=site).inconclusive_since is None


def test_it_does_not_notify_anyway_a_site_it_refused_to_look_at(
    settings: Any, handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any
) -> None:
    settings.INCONCLUSIVE_NOTIFY_AFTER = 2
    site = located_site(f"http://meta.{ZONE}/")
    for _ in range(3):
        make_due(site)
        check_round(django_capture_on_commit_callbacks)
    assert last_check(site).outcome == "blocked"
    assert Watch.objects.get(site=site).inconclusive_streak == 3
    assert handoffs.calls == []
    assert not Event.objects.filter(site=site, kind=EventKind.SITE_UNVERIFIED).exists()


@pytest.mark.parametrize("mode", ["503", "reset", "403"])
def test_it_never_confirms_a_takedown_on_inconclusive_checks(
    farm: Farm,
    handoffs: PipelineCalls,
    django_capture_on_commit_callbacks: Any,
    mode: str,
) -> None:
    path = f"/never-down-{mode}"
    site = notified_then_checked(farm, path, mode, django_capture_on_commit_callbacks, rounds=4)
    site.refresh_from_db()
    assert site.state == SiteState.NOTIFIED
    assert handoffs.of("site_confirmed_down") == []
    watch = Watch.objects.get(site=site)
    assert (watch.down_streak, watch.inconclusive_streak) == (0, 4)


def test_it_confirms_a_takedown_over_inconclusive_checks_in_between(
    farm: Farm, handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any
) -> None:
    site = notified_then_checked(
        farm, "/down-with-a-gap", ("404", "503", "404"), django_capture_on_commit_callbacks
    )
    site.refresh_from_db()
    assert site.state == SiteState.DOWN
    assert Event.objects.get(site=site, kind=EventKind.SITE_DOWN).data["streak"] == 2
    assert handoffs.of("site_confirmed_down") == [site.pk]


def test_it_lists_an_open_site_inconclusive_for_too_long_for_a_handler(
    farm: Farm,
    settings: Any,
    handoffs: PipelineCalls,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.INCONCLUSIVE_AFTER = 3600
    path = "/unclear-for-long"
    farm.modes[path] = "503"
    site = located_site(f"http://login.{ZONE}{path}")
    check_round(django_capture_on_commit_callbacks)
    since = Watch.objects.get(site=site).inconclusive_since
    assert since is not None
    assert selectors.handler_items(since + timedelta(seconds=3599)) == []
    items = handler_queue.handler_items(
        now=since + timedelta(seconds=3601), reasons=[Reason.INCONCLUSIVE]
    )
    assert [(i.reason, i.site_id, i.since) for i in items] == [
        (Reason.INCONCLUSIVE, site.pk, since)
    ]
    assert items[0].detail == "1 inconclusive checks in a row, the last: http_error"
    # Another unclear check keeps the start of the run.
    make_due(site)
    check_round(django_capture_on_commit_callbacks)
    assert Watch.objects.get(site=site).inconclusive_since == since
    # The first check that proves something takes it off the queue.
    farm.modes[path] = "up"
    make_due(site)
    check_round(django_capture_on_commit_callbacks)
    assert selectors.handler_items(timezone.now() + timedelta(days=30)) == []


def test_it_puts_a_trickling_site_in_the_handlers_queue_command(
    settings: Any, handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any
) -> None:
    settings.INCONCLUSIVE_AFTER = 0
    site = located_site(f"http://login.{ZONE}/slow")
    check_round(django_capture_on_commit_callbacks)
    out = io.StringIO()
    call_command("queue", "--json", "--reason", "inconclusive", stdout=out)
    data = json.loads(out.getvalue())
    assert data["counts"] == {"inconclusive": 1}
    [item] = data["items"]
    assert (item["reason"], item["site_id"]) == ("inconclusive", site.pk)
    assert item["detail"] == "1 inconclusive checks in a row, the last: timeout"
    out = io.StringIO()
    call_command("queue", "--reason", "inconclusive", stdout=out)
    first, last = out.getvalue().splitlines()
    assert f"inconclusive      site={site.pk}" in first
    assert last == "1 items: 1 inconclusive"


def test_it_does_not_list_a_closed_site_that_turns_inconclusive(
    farm: Farm,
    settings: Any,
    handoffs: PipelineCalls,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.INCONCLUSIVE_AFTER = 0
    path = "/closed-then-silent"
    site = notified_then_checked(farm, path, "410", django_capture_on_commit_callbacks)
    move(site, SiteState.CLOSED, kind=EventKind.SITE_CLOSED)
    farm.modes[path] = "503"
    make_due(site)
    check_round(django_capture_on_commit_callbacks)
    assert Watch.objects.get(site=site).inconclusive_since is not None
    assert selectors.handler_items(timezone.now() + timedelta(days=1)) == []


def test_it_backs_off_inconclusive_retries_up_to_the_usual_interval(settings: Any) -> None:
    settings.INCONCLUSIVE_RETRY = 10
    now = timezone.now()
    due = now + timedelta(seconds=60)
    delays = [
        services.inconclusive_retry_at(n, now=now, due=due) - now  # type: ignore[operator]
        for n in (1, 2, 3, 4, 50)
    ]
    assert [d.total_seconds() for d in delays] == [10, 20, 40, 60, 60]
    assert services.inconclusive_retry_at(1, now=now, due=None) is None


@pytest.mark.parametrize("path", ["/huge", "/bomb"])
def test_it_reads_endless_and_bomb_bodies_only_up_to_the_cap(
    settings: Any, handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any, path: str
) -> None:
    site = located_site(f"http://login.{ZONE}{path}")
    check_round(django_capture_on_commit_callbacks)
    check = last_check(site)
    assert check.truncated
    assert check.size == settings.FETCH_MAX_BODY
    assert "capped" in check.detail
    evidence = Evidence.objects.get(site=site)
    assert len(bytes(evidence.body)) == settings.FETCH_MAX_BODY


@pytest.mark.parametrize("url", [f"http://login.{ZONE}/to-private", f"http://meta.{ZONE}/"])
def test_it_leaves_a_site_leading_to_private_addresses_undecided(
    farm: Farm, handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any, url: str
) -> None:
    site = located_site(url)
    check_round(django_capture_on_commit_callbacks)
    assert last_check(site).outcome == "blocked"
    site.refresh_from_db()
    assert site.state == SiteState.LOCATED
    assert handoffs.calls == []
    assert farm.canary_hits["/canary"] == 0
    assert site.next_check is not None


def test_it_checks_a_rebinding_site_without_touching_the_private_answer(
    farm: Farm, handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any
) -> None:
    site = located_site(f"http://rebind.{ZONE}/rebind-site")
    for _ in range(4):
        make_due(site)
        check_round(django_capture_on_commit_callbacks)
    checks = list(Check.objects.filter(site=site))
    # The name alternates between the site and 127.0.0.1: a browser that got the
    # refused answer is followed by one that got the site.
    assert {c.outcome for c in checks} == {"up"}
    assert any((c.other_agent, c.other_outcome) == ("desktop", "blocked") for c in checks)
    assert farm.canary_hits["/rebind-site"] == 0
    site.refresh_from_db()
    # The blocked answers are inconclusive: the site stays up and is notified once.
    assert site.state == SiteState.LOCATED
    assert handoffs.of("site_seen_up") == [site.pk]


def test_it_records_a_malware_download_by_hash_and_size_only(
    handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any
) -> None:
    site = located_site(f"http://malware.{ZONE}/malware.exe", kind="malware")
    check_round(django_capture_on_commit_callbacks)
    evidence = Evidence.objects.get(site=site)
    assert evidence.kind == "download"
    assert evidence.sha256 == hashlib.sha256(MALWARE).hexdigest()
    assert evidence.size == len(MALWARE)
    assert bytes(evidence.body) == b""
    assert not evidence.sample
    assert evidence.screenshot_state == "skipped"


def test_it_keeps_the_malware_sample_zipped_with_the_usual_password_when_configured(
    settings: Any, handoffs: PipelineCalls, django_capture_on_commit_callbacks: Any
) -> None:
    import pyzipper

    settings.KEEP_MALWARE = True
    site = located_site(f"http://malware.{ZONE}/malware.exe?kept", kind="malware")
    check_round(django_capture_on_commit_callbacks)
    evidence = Evidence.objects.get(site=site)
    with evidence.sample.open("rb") as f, pyzipper.AESZipFile(io.BytesIO(f.read())) as zf:
        zf.setpassword(b"infected")
        (name,) = zf.namelist()
        assert zf.read(name) == MALWARE
        with pytest.raises(RuntimeError):
            zf.setpassword(b"wrong")
            zf.read(name)
    # The temporary download is gone.
    assert not list((settings.DATA_DIR / "tmp").iterdir())


def test_it_never_checks_historical_sites() -> None:
    site = located_site(f"http://login.{ZONE}/historical")
    Site.objects.filter(pk=site.pk).update(historical=True)
    make_due(site)
    assert services.checks_claim(100) == []
    services.sites_schedule([site.pk])
    assert services.checks_claim(100) == []


def test_it_claims_each_due_site_once_until_its_lease_runs_out(settings: Any) -> None:
    settings.MONITOR_LEASE = 30
    a = located_site(f"http://login.{ZONE}/claim-a")
    b = located_site(f"http://login.{ZONE}/claim-b")
    first = services.checks_claim(1)
    second = services.checks_claim(10)
    assert len(first) == 1 and len(second) == 1
    assert {first[0].site_id, second[0].site_id} == {a.pk, b.pk}
    assert services.checks_claim(10) == []
    later = timezone.now() + timedelta(seconds=services.lease_seconds() + 2)
    assert len(services.checks_claim(10, now=later)) == 2


def test_it_gives_a_dead_monitors_checks_to_the_next_claim_after_the_short_lease(
    settings: Any,
) -> None:
    settings.MONITOR_LEASE = 30
    site = located_site(f"http://login.{ZONE}/claim-dead")
    now = timezone.now()
    (dead,) = services.checks_claim(10, now=now)
    # The claimer is killed and never renews: the site is its own for one lease only.
    assert services.checks_claim(10, now=now + timedelta(seconds=29)) == []
    (alive,) = services.checks_claim(10, now=now + timedelta(seconds=31))
    assert alive.site_id == site.pk and alive.lease is not None and alive.lease != dead.lease
    # Had the first claimer only paused, its late renewal would change nothing ...
    assert dead.lease is not None
    services.checks_extend([site.pk], marker=dead.lease, now=now + timedelta(seconds=40))
    site.refresh_from_db()
    assert site.next_check == alive.lease
    # ... while the live claimer's renewal moves the lease on.
    renewed = services.checks_extend([site.pk], marker=alive.lease, now=now + timedelta(seconds=40))
    site.refresh_from_db()
    assert site.next_check == renewed and renewed > alive.lease


def test_it_does_not_renew_the_lease_of_a_recorded_check(
    django_capture_on_commit_callbacks: Any,
) -> None:
    site = located_site(f"http://login.{ZONE}/claim-recorded")
    targets = services.checks_claim(10)
    assert [t.site_id for t in targets] == [site.pk] and targets[0].lease is not None
    with django_capture_on_commit_callbacks(execute=True), Monitor() as monitor:
        monitor.check_targets(targets)
    site.refresh_from_db()
    recorded_next = site.next_check
    assert recorded_next is not None and recorded_next != targets[0].lease
    services.checks_extend([site.pk], marker=targets[0].lease)
    site.refresh_from_db()
    assert site.next_check == recorded_next


@pytest.mark.django_db(transaction=True)
def test_it_keeps_a_batch_slower_than_its_lease_claimed_until_it_is_recorded(
    settings: Any,
) -> None:
    """A check that outlasts its lease is renewed: a second claim meanwhile gets nothing.

    The farm's /slow page trickles past the fetch timeout, as a desktop and
    then as a phone: about two fetch timeouts, several leases of 1 s.
    """
    settings.MONITOR_LEASE = 1
    site = located_site(f"http://login.{ZONE}/slow")
    targets = services.checks_claim(10)
    assert [t.site_id for t in targets] == [site.pk]
    first_lease = targets[0].lease
    assert first_lease is not None
    errors: list[BaseException] = []

    def first_monitor() -> None:
        try:
            with Monitor() as monitor:
                monitor.check_targets(targets)
        except BaseException as exc:  # reported by the test's thread
            errors.append(exc)
        finally:
            close_old_connections()

    thread = threading.Thread(target=first_monitor, name="first-monitor")
    thread.start()
    try:
        wait_until(
            lambda: timezone.now() > first_lease + timedelta(seconds=0.5),
            what="the first lease to run out",
        )
        assert thread.is_alive(), "the check ended before its first lease did"
        second = services.checks_claim(10)
    finally:
        thread.join(timeout=60)
    assert not errors, errors
    assert second == []
    assert Check.objects.filter(site=site).count() == 1


def test_it_does_not_check_sites_outside_the_loop() -> None:
    site = located_site(f"http://login.{ZONE}/rejected")
    move(site, SiteState.REJECTED, force=True)
    make_due(site)
    assert services.checks_claim(10) == []


@pytest.mark.parametrize(
    ("first_url", "second_url", "second_ip", "by"),
    [
        (f"http://login.{ZONE}/a", f"http://login.{ZONE}/b", "127.0.0.2", "server"),
        (f"http://login.{ZONE}/c", f"http://second.{ZONE}/c", "127.0.0.2", "ip"),
        (f"http://login.{ZONE}/d", f"http://second.{ZONE}/d", OTHER_IP, "prefix"),
    ],
)
def test_it_links_a_new_site_to_an_earlier_one_on_the_same_server_ip_or_prefix(
    first_url: str, second_url: str, second_ip: str, by: str
) -> None:
    earlier = located_site(first_url)
    move(earlier, SiteState.ALREADY_DOWN, kind=EventKind.SITE_ALREADY_DOWN)
    later = located_site(second_url, ip=second_ip)
    assert later.recurrence_of_id == earlier.pk
    new_event = Event.objects.get(site=later, kind=EventKind.SITE_RECURRENCE)
    old_event = Event.objects.get(site=earlier, kind=EventKind.SITE_RECURRENCE)
    assert new_event.data == {"of": earlier.pk, "by": by, "site": later.pk}
    assert old_event.data == new_event.data


def test_it_does_not_link_sites_that_only_share_a_wide_network() -> None:
    earlier = located_site(f"http://login.{ZONE}/wide-a", prefix="127.0.0.0/16")
    move(earlier, SiteState.ALREADY_DOWN, kind=EventKind.SITE_ALREADY_DOWN)
    later = located_site(f"http://second.{ZONE}/wide-b", ip=OTHER_IP, prefix="127.0.0.0/16")
    assert later.recurrence_of_id is None


def test_it_does_not_link_sites_reported_together() -> None:
    from takedown.intake.models import Channel, Report

    report = Report.objects.create(channel=Channel.API)
    a = sites_create_bulk([_row(f"http://login.{ZONE}/together-a")])
    b = sites_create_bulk([_row(f"http://login.{ZONE}/together-b")])
    report.sites.add(*a.values(), *b.values())
    first = located_site(f"http://login.{ZONE}/together-a")
    second = located_site(f"http://login.{ZONE}/together-b")
    assert first.recurrence_of_id is None and second.recurrence_of_id is None
    assert not Event.objects.filter(kind=EventKind.SITE_RECURRENCE).exists()


def test_it_links_a_later_report_whatever_the_earlier_site_has_reached() -> None:
    """Two reports of one server: linked even if the first site is not notified yet."""
    earlier = located_site(f"http://login.{ZONE}/first-report")
    later = located_site(f"http://login.{ZONE}/second-report")
    assert earlier.state == SiteState.LOCATED
    assert later.recurrence_of_id == earlier.pk


def _row(url: str) -> dict[str, str]:
    host = url.split("/")[2]
    return {"url": url, "host": host, "registered_domain": host}


def test_it_checks_down_sites_less_often_as_time_passes(settings: Any) -> None:
    now = timezone.now()
    settings.CHECK_INTERVAL = 60
    settings.WATCH_INTERVAL_MAX = 86400
    up = services.next_check_for("notified", now=now, state_changed=now, watch_until=None)
    assert up == now + timedelta(seconds=60)
    fresh = services.next_check_for(
        "closed", now=now, state_changed=now - timedelta(minutes=1), watch_until=None
    )
    assert fresh == now + timedelta(seconds=60)
    older = services.next_check_for(
        "closed", now=now, state_changed=now - timedelta(hours=8), watch_until=None
    )
    assert older == now + timedelta(hours=2)
    ancient = services.next_check_for(
        "closed", now=now, state_changed=now - timedelta(days=20), watch_until=None
    )
    assert ancient == now + timedelta(days=1)
    end = now + timedelta(minutes=30)
    assert (
        services.next_check_for(
            "closed", now=now, state_changed=now - timedelta(hours=8), watch_until=end
        )
        == end
    )
    assert services.next_check_for("closed", now=end, state_changed=now, watch_until=end) is None
    assert services.next_check_for("rejected", now=now, state_changed=now, watch_until=None) is None


def test_it_schedules_the_first_check_when_locate_hands_sites_over() -> None:
    from takedown.cases.services import site_transition, sites_create_bulk
    from takedown.loop import run_round

    url = f"http://login.{ZONE}/handed-over"
    site = sites_create_bulk([{"url": url, "host": f"login.{ZONE}", "registered_domain": ZONE}])[
        url
    ]
    site_transition(site, SiteState.LOCATED, kind=EventKind.LOCATE_DONE)
    # The worker finds the first-check step written with the state.
    assert run_round(steps=[Step.FIRST_CHECK]) == 1
    site.refresh_from_db()
    assert site.next_check is not None and site.next_check <= timezone.now()
    assert [t.site_id for t in services.checks_claim(10)] == [site.pk]
