from __future__ import annotations

from datetime import UTC, datetime

import pytest

from takedown.cases.models import Event, EventKind, Site, SiteState
from takedown.cases.services import (
    InvalidTransition,
    site_reject,
    site_transition,
    site_try_transition,
    sites_create_bulk,
)

pytestmark = pytest.mark.django_db


def make_site(url: str = "http://phish.example/login") -> Site:
    return sites_create_bulk(
        [{"url": url, "host": "phish.example", "registered_domain": "phish.example"}]
    )[url]


def test_it_writes_an_event_for_each_new_site() -> None:
    site = make_site()
    event = Event.objects.get(site=site)
    assert event.kind == EventKind.SITE_REPORTED
    assert event.to_state == SiteState.REPORTED


def test_it_names_each_kind_in_the_users_language() -> None:
    from django.utils import translation

    event = Event.objects.get(site=make_site())
    with translation.override("ja"):
        assert event.kind_label == "サイト報告受付"
    # A kind written by an older version, or by hand, still shows as its code.
    assert Event(kind="legacy.kind").kind_label == "legacy.kind"


def test_it_does_not_duplicate_existing_sites() -> None:
    first = make_site()
    again = make_site()
    assert again.pk == first.pk
    assert Site.objects.count() == 1
    assert Event.objects.filter(kind=EventKind.SITE_REPORTED).count() == 1


def test_it_records_the_transition_on_the_timeline() -> None:
    site = make_site()
    at = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)
    site_transition(site, SiteState.LOCATED, kind=EventKind.LOCATE_DONE, at=at, data={"asn": 64500})
    site.refresh_from_db()
    assert site.state == SiteState.LOCATED
    assert site.state_changed == at
    event = Event.objects.get(kind=EventKind.LOCATE_DONE)
    assert (event.from_state, event.to_state, event.data) == ("reported", "located", {"asn": 64500})


def test_it_refuses_a_transition_the_loop_does_not_allow() -> None:
    site = make_site()
    with pytest.raises(InvalidTransition):
        site_transition(site, SiteState.CLOSED)
    site.refresh_from_db()
    assert site.state == SiteState.REPORTED
    assert not Event.objects.filter(to_state=SiteState.CLOSED).exists()


def test_it_checks_the_stored_state_not_the_callers_copy() -> None:
    site = make_site()
    stale = Site.objects.get(pk=site.pk)
    site_reject(site=site, actor="alice", reason="not phishing")
    # A worker holding an old copy must not move the rejected site on.
    assert site_try_transition(stale, SiteState.LOCATED) is None
    site.refresh_from_db()
    assert site.state == SiteState.REJECTED


def test_it_saves_extra_fields_with_the_transition() -> None:
    site = make_site()
    site.ip = "192.0.2.7"
    site_transition(site, SiteState.LOCATED, update_fields=["ip"])
    assert Site.objects.get(pk=site.pk).ip == "192.0.2.7"
