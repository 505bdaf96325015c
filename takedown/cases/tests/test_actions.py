"""Handler actions on sites: each writes its event with the acting user; bulk collects refusals."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from takedown.actions import sites_act
from takedown.cases.models import Event, Incident, Site, SiteState, Step, Work
from takedown.cases.services import (
    ActionError,
    incident_add_sites,
    incident_create,
    incident_merge,
    site_assign,
    site_note_add,
    site_recheck,
    site_reject,
    site_reopen,
    site_transition,
    sites_create_bulk,
)

pytestmark = pytest.mark.django_db


def make_sites(n: int, *, state: str = SiteState.REPORTED, historical: bool = False) -> list[Site]:
    rows = [
        {
            "url": f"http://s{i}.phish.example/",
            "host": f"s{i}.phish.example",
            "registered_domain": "phish.example",
        }
        for i in range(n)
    ]
    by_url = sites_create_bulk(rows, historical=historical)
    sites = [by_url[r["url"]] for r in rows]
    for site in sites:
        if state != SiteState.REPORTED:
            site_transition(site, state, force=True)
    return sites


def test_it_rejects_with_the_reason_and_the_handler_as_actor() -> None:
    (site,) = make_sites(1)
    site_reject(site=site, actor="alice", reason="a bank's real login page")
    site.refresh_from_db()
    assert site.state == SiteState.REJECTED
    event = Event.objects.get(kind="site.rejected")
    assert (event.actor, event.message, event.to_state) == (
        "alice",
        "a bank's real login page",
        "rejected",
    )


def test_it_refuses_a_rejection_without_a_reason() -> None:
    (site,) = make_sites(1)
    with pytest.raises(ActionError):
        site_reject(site=site, actor="alice", reason="  ")
    assert Site.objects.get(pk=site.pk).state == SiteState.REPORTED


def test_it_reopens_and_hands_the_site_to_locate() -> None:
    (site,) = make_sites(1, state=SiteState.REJECTED)
    Work.objects.all().delete()
    site_reopen(site=site, actor="bob", reason="it is phishing after all")
    assert Site.objects.get(pk=site.pk).state == SiteState.REPORTED
    # The locate step is due, written with the state.
    assert list(Work.objects.values_list("step", "site_id")) == [(Step.LOCATE, site.pk)]
    assert Event.objects.get(kind="site.reopened").actor == "bob"


def test_it_makes_the_next_check_due_now_for_a_located_site() -> None:
    (site,) = make_sites(1, state=SiteState.NOTIFIED)
    site_recheck(site=site, actor="alice")
    site.refresh_from_db()
    assert site.next_check is not None
    event = Event.objects.get(kind="site.recheck")
    assert event.actor == "alice" and event.data == {"step": "check"}


def test_it_locates_an_unresolvable_site_again_on_recheck() -> None:
    (site,) = make_sites(1, state=SiteState.UNRESOLVABLE)
    Work.objects.all().delete()
    site_recheck(site=site, actor="alice")
    assert Site.objects.get(pk=site.pk).state == SiteState.REPORTED
    assert list(Work.objects.values_list("step", "site_id")) == [(Step.LOCATE, site.pk)]


def test_it_refuses_to_act_on_imported_history() -> None:
    (site,) = make_sites(1, historical=True)
    for act in (
        lambda: site_recheck(site=site, actor="alice"),
        lambda: site_reject(site=site, actor="alice", reason="x"),
        lambda: site_reopen(site=site, actor="alice"),
    ):
        with pytest.raises(ActionError):
            act()
    assert not Event.objects.exclude(kind="site.reported").exists()


def test_it_assigns_and_releases(alice: User) -> None:
    (site,) = make_sites(1)
    site_assign(site=site, assignee=alice, actor="bob")
    assert Site.objects.get(pk=site.pk).assignee == alice
    with pytest.raises(ActionError):
        site_assign(site=site, assignee=alice, actor="bob")
    site_assign(site=site, assignee=None, actor="bob")
    assert Site.objects.get(pk=site.pk).assignee is None
    assert [e.data for e in Event.objects.filter(kind="site.assigned").order_by("id")] == [
        {"to": "alice", "from": ""},
        {"to": "", "from": "alice"},
    ]


def test_it_keeps_a_note_on_the_timeline() -> None:
    (site,) = make_sites(1)
    site_note_add(site=site, actor="alice", text="called the ISP, they will look")
    assert Event.objects.get(kind="site.note").message == "called the ISP, they will look"


def test_it_adds_sites_to_an_incident_and_merges_incidents() -> None:
    a, b, c = make_sites(3)
    first = incident_create(title="campaign 1", sites=[a], actor="alice")
    second = incident_create(title="campaign 2", sites=[b], actor="alice")
    incident_add_sites(incident=first, sites=[a, c], actor="alice")
    assert set(first.sites.values_list("pk", flat=True)) == {a.pk, c.pk}
    incident_merge(source=second, target=first, actor="bob")
    second.refresh_from_db()
    assert second.merged_into == first
    assert set(first.sites.values_list("pk", flat=True)) == {a.pk, b.pk, c.pk}
    with pytest.raises(ActionError):
        incident_add_sites(incident=second, sites=[a], actor="bob")
    assert Event.objects.get(kind="incident.merged").actor == "bob"


def test_it_acts_on_fifty_sites_and_reports_each_refusal() -> None:
    sites = make_sites(50)
    site_reject(site=sites[0], actor="alice", reason="already")
    result = sites_act(action="reject", sites=sites, actor="bob", params={"reason": "test run"})
    assert len(result.done) == 49
    assert result.refused == [(sites[0].pk, f"site {sites[0].pk} is already rejected")]
    assert Site.objects.filter(state=SiteState.REJECTED).count() == 50
    assert Event.objects.filter(kind="site.rejected", actor="bob").count() == 49


def test_it_creates_an_incident_for_a_selection() -> None:
    sites = make_sites(3)
    result = sites_act(action="incident", sites=sites, actor="alice", params={"title": "bulk"})
    assert len(result.done) == 3
    assert Incident.objects.get(title="bulk").sites.count() == 3


def test_it_refuses_an_unknown_action_or_user() -> None:
    sites = make_sites(1)
    with pytest.raises(ActionError):
        sites_act(action="delete", sites=sites, actor="alice")
    with pytest.raises(ActionError):
        sites_act(action="assign", sites=sites, actor="alice", params={"assignee": "nobody"})
