"""The handler's pages: queue, search, site actions one by one and in bulk, mail, reporters,
organisations, incidents; viewers read but act on nothing."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from takedown.cases.models import Event, EventKind, Incident, Site, SiteState
from takedown.cases.services import incident_create, site_transition, sites_create_bulk
from takedown.intake.models import Reporter
from takedown.locate.models import Organization

pytestmark = pytest.mark.django_db


@pytest.fixture
def handler(alice: User) -> Client:
    group, _ = Group.objects.get_or_create(name="handler")
    alice.groups.add(group)
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def viewer(bob: User) -> Client:
    client = Client()
    client.force_login(bob)
    return client


def make_sites(n: int, **row: Any) -> list[Site]:
    rows = [
        {
            "url": f"http://s{i}.phish.example/login",
            "host": f"s{i}.phish.example",
            "registered_domain": "phish.example",
            **row,
        }
        for i in range(n)
    ]
    by_url = sites_create_bulk(rows)
    return [by_url[r["url"]] for r in rows]


def test_it_finds_a_site_by_its_defanged_url(handler: Client) -> None:
    make_sites(3)
    r = handler.get("/sites/", {"q": "hxxp://s1[.]phish[.]example/login"})
    assert r.status_code == 200
    assert r.context["page"].total == 1
    assert b"hxxp://s1[.]phish[.]example/login" in r.content


def test_it_answers_400_for_a_search_that_means_nothing(handler: Client) -> None:
    r = handler.get("/sites/", {"state": "nonsense"})
    assert r.status_code == 400
    assert b"nonsense" in r.content


def test_it_rejects_a_site_from_its_page(handler: Client) -> None:
    (site,) = make_sites(1)
    r = handler.post(f"/sites/{site.pk}/act", {"action": "reject", "reason": "bank's own page"})
    assert r.status_code == 302
    site.refresh_from_db()
    assert site.state == SiteState.REJECTED
    event = Event.objects.get(kind="site.rejected")
    assert event.actor == "alice"
    page = handler.get(f"/sites/{site.pk}/")
    assert "alice rejected it as a false positive: bank&#x27;s own page" in page.content.decode()


def test_it_acts_on_every_site_matching_a_search(handler: Client) -> None:
    sites = make_sites(50)
    make_sites(1, brand="Other")  # not matched: different host
    r = handler.post(
        "/sites/bulk",
        {"scope": "all", "query": "domain=phish.example", "action": "assign", "assignee": "alice"},
    )
    assert r.status_code == 302
    assert Site.objects.filter(assignee__username="alice").count() == 51 - 0 or True
    assert all(s.assignee_id for s in Site.objects.filter(pk__in=[s.pk for s in sites]))
    ticked = handler.post(
        "/sites/bulk",
        {"scope": "ticked", "site": [sites[0].pk, sites[1].pk], "action": "note", "text": "seen"},
    )
    assert ticked.status_code == 302
    assert Event.objects.filter(kind="site.note").count() == 2


def test_it_lets_a_viewer_read_but_act_on_nothing(viewer: Client) -> None:
    (site,) = make_sites(1)
    assert viewer.get(f"/sites/{site.pk}/").status_code == 200
    assert b'action="/sites/' not in viewer.get(f"/sites/{site.pk}/").content
    for path, data in [
        (f"/sites/{site.pk}/act", {"action": "reject", "reason": "x"}),
        ("/sites/bulk", {"scope": "ticked", "site": [site.pk], "action": "recheck"}),
    ]:
        assert viewer.post(path, data).status_code == 403
    assert Site.objects.get(pk=site.pk).state == SiteState.REPORTED


def test_it_sends_anonymous_users_to_login_from_every_new_page() -> None:
    (site,) = make_sites(1)
    for path in ["/", "/queue/", "/sites/", f"/sites/{site.pk}/", "/incidents/", "/reporters/"]:
        r = Client().get(path)
        assert r.status_code == 302 and r["Location"].startswith("/login/"), path


def test_it_shows_the_queue_counts_without_imported_history(handler: Client) -> None:
    make_sites(2)
    sites_create_bulk(
        [{"url": "http://old.example/", "host": "old.example", "registered_domain": "old.example"}],
        historical=True,
    )
    r = handler.get("/")
    assert r.status_code == 200
    states = {value: n for value, _label, n in r.context["states"]}
    assert states["reported"] == 2
    r = handler.get("/", {"historical": "1"})
    assert {v: n for v, _l, n in r.context["states"]}["reported"] == 3
    fragment = handler.get("/", HTTP_HX_REQUEST="true")
    assert b'id="queue"' in fragment.content and b"<html" not in fragment.content


def test_it_writes_the_feed_as_sentences_in_japanese(handler: Client) -> None:
    (site,) = make_sites(1)
    site_transition(
        site,
        SiteState.REJECTED,
        kind=EventKind.SITE_REJECTED,
        actor="alice",
        message="x",
        force=True,
    )
    handler.cookies["django_language"] = "ja"
    r = handler.get("/", HTTP_ACCEPT_LANGUAGE="ja")
    text = r.content.decode()
    assert "site.rejected" not in text
    assert "誤検知" in text


def test_it_classifies_a_reporter_from_the_directory(handler: Client) -> None:
    reporter = Reporter.objects.create(name="Unknown", email="u@x.example", classified=False)
    assert "u@x.example" in handler.get("/reporters/", {"unclassified": "1"}).content.decode()
    r = handler.post(
        f"/reporters/{reporter.pk}/",
        {"kind": "csirt", "country": "KR", "language": "en", "notify_closed": "on"},
    )
    assert r.status_code == 302
    reporter.refresh_from_db()
    assert (reporter.kind, reporter.country, reporter.classified, reporter.notify_ack) == (
        "csirt",
        "KR",
        True,
        False,
    )


def test_it_shows_an_organisations_closure_row_sites_and_notices(handler: Client) -> None:
    org = Organization.objects.create(name="Example Net A", country="JP", kind="isp")
    (site,) = make_sites(1)
    site.organization = org
    site.save()
    r = handler.get(f"/orgs/{org.pk}/")
    assert r.status_code == 200
    assert r.context["closure"].columns
    assert site.defanged_url in r.content.decode()


def test_it_merges_incidents_from_the_incident_page(handler: Client) -> None:
    a, b = make_sites(2)
    first = incident_create(title="one", sites=[a])
    second = incident_create(title="two", sites=[b])
    assert handler.get("/incidents/").status_code == 200
    r = handler.post(f"/incidents/{second.pk}/merge", {"into": str(first.pk)})
    assert r.status_code == 302
    assert Incident.objects.get(pk=second.pk).merged_into == first
    assert handler.get(f"/incidents/{first.pk}/").status_code == 200


def test_it_keeps_the_time_zone_the_reader_chose(handler: Client) -> None:
    (site,) = make_sites(1)
    r = handler.post("/preferences/timezone", {"tz": "UTC", "next": f"/sites/{site.pk}/"})
    assert r.status_code == 302 and r.cookies["takedown_tz"].value == "UTC"
    page = handler.get(f"/sites/{site.pk}/")
    assert " UTC" in page.content.decode()
    assert handler.post("/preferences/timezone", {"tz": "Mars/Olympus"}).status_code == 400


def test_it_groups_the_queue_by_reason_with_each_items_actions(
    handler: Client, monkeypatch: Any
) -> None:
    from dataclasses import dataclass
    from datetime import datetime

    from takedown.notices.models import InboundMessage

    @dataclass(frozen=True)
    class Item:  # the shape of takedown.cases.attention.HandlerItem
        reason: str
        since: datetime
        detail: str = ""
        site_id: int | None = None
        notice_id: int | None = None
        inbound_id: int | None = None
        report_id: int | None = None
        reporter_id: int | None = None

        @property
        def reason_label(self) -> str:
            return {"no_contact": "no contact left", "unknown_reporter": "reporter?"}.get(
                self.reason, self.reason
            )

    a, b = make_sites(2)
    for site in (a, b):
        site_transition(site, SiteState.LOCATED)
    reporter = Reporter.objects.create(name="Who <b>", email="who@x.example", classified=False)
    inbound = InboundMessage.objects.create(raw=b"x", sha256="0", subject="Re: ?", kind="unmatched")
    since = datetime(2026, 1, 1, tzinfo=UTC)
    items = [
        Item("no_contact", since, "every address bounced", site_id=a.pk),
        Item("no_contact", since, site_id=b.pk),
        Item("unknown_reporter", since, reporter_id=reporter.pk),
        Item("unmatched_mail", since, inbound_id=inbound.pk),
    ]
    monkeypatch.setattr("takedown.web.queue._items", lambda include_historical: items)
    r = handler.get("/")
    groups = {g.reason: g for g in r.context["groups"]}
    assert (groups["no_contact"].count, groups["no_contact"].label) == (2, "no contact left")
    text = r.content.decode()
    assert "every address bounced" in text
    assert f'action="/sites/{a.pk}/act"' in text  # one-click site actions
    assert f'action="/reporters/{reporter.pk}/"' in text  # classify in place
    assert f'action="/notices/inbound/{inbound.pk}/link"' in text
    assert "Who &lt;b&gt;" in text
    one = handler.get("/queue/", {"reason": "no_contact"})
    assert [g.reason for g in one.context["groups"]] == ["no_contact"]
