"""The handler's workbench through the API: the queue, the search, every action of the UI.

Each action goes through the same service as its button (the actor on the
timeline is ``api:<user>``); a viewer's token gets 403 and changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from takedown.cases.models import Event, EventKind, Incident, Site, SiteState
from takedown.cases.services import incident_create
from takedown.intake.models import Reporter
from takedown.locate.models import Organization
from takedown.notices.inbound import inbound_receive
from takedown.notices.models import InboundKind, InboundMessage, Notice, NoticeKind
from takedown.stats.tests.history import History, jst
from takedown.web.tests.api_helpers import api, make_notice, make_org, make_sites, send

pytestmark = pytest.mark.django_db

UNMATCHED_REPLY = (
    b"From: Abuse Desk <abuse@net.example>\r\nTo: takedown@csirt.example\r\n"
    b"Subject: Re: about your mail\r\n\r\nWe removed the page.\r\n"
)


@pytest.fixture
def org() -> Organization:
    return make_org()


def test_it_searches_sites_as_the_sites_page_does(alice_token: str, org: Organization) -> None:
    a, b, c = make_sites(3, org, ip="192.0.2.7")
    Site.objects.filter(pk=c.pk).update(ip="198.51.100.9", brand="Bank B")
    client = api(alice_token)

    def ids(**params: str | int) -> list[int]:
        page = client.get("/api/sites", params).json()
        assert page["count"] == len(page["items"]), page
        return [s["id"] for s in page["items"]]

    assert ids(ip="192.0.2.0/24") == [a.pk, b.pk]
    assert ids(q="192.0.2.7") == [a.pk, b.pk]
    assert ids(q="Bank B") == [c.pk]
    assert ids(q="login1.bank[.]example") == [b.pk]
    assert ids(host="bank.example", order="-id") == [c.pk, b.pk, a.pk]
    assert ids(org="example net") == [a.pk, b.pk, c.pk]
    assert ids(asn=64500) == [a.pk, b.pk, c.pk]
    incident = incident_create(title="campaign", sites=[b], actor="test")
    assert ids(incident=incident.pk) == [b.pk]
    assert ids(assignee="-") == [a.pk, b.pk, c.pk]
    # Said as on the page: a value that cannot mean anything is a 400 with its reason.
    r = client.get("/api/sites", {"ip": "192.0.2.999"})
    assert r.status_code == 400 and "ip" in r.json()["detail"]
    site = client.get(f"/api/sites/{b.pk}").json()
    assert site["incident_ids"] == [incident.pk] and site["assignee"] is None


def test_a_handler_acts_on_one_site_and_is_told_why_when_refused(
    alice_token: str, bob_token: str, org: Organization
) -> None:
    (site,) = make_sites(1, org, state=SiteState.LOCATED)
    url = f"/api/sites/{site.pk}/actions"
    assert send(api(bob_token), "POST", url, {"action": "note", "text": "x"}).status_code == 403
    r = send(api(alice_token), "POST", url, {"action": "note", "text": "seen at 10:02"})
    assert r.status_code == 200 and r.json() == {"action": "note", "done": [site.pk], "refused": []}
    note = Event.objects.get(kind=EventKind.SITE_NOTE)
    assert (note.actor, note.message, note.site_id) == ("api:alice", "seen at 10:02", site.pk)
    r = send(api(alice_token), "POST", url, {"action": "reject"})
    assert r.status_code == 409 and "why" in r.json()["detail"]
    r = send(api(alice_token), "POST", url, {"action": "reject", "reason": "a bank's own page"})
    assert r.status_code == 200
    site.refresh_from_db()
    assert site.state == SiteState.REJECTED
    r = send(api(alice_token), "POST", url, {"action": "recheck"})
    assert r.status_code == 409 and "reopen it first" in r.json()["detail"]
    assert send(api(alice_token), "POST", url, {"action": "reopen"}).status_code == 200
    r = send(api(alice_token), "POST", url, {"action": "assign", "assignee": "alice"})
    assert r.status_code == 200
    assert api(alice_token).get(f"/api/sites/{site.pk}").json()["assignee"] == "alice"
    r = send(api(alice_token), "POST", url, {"action": "assign", "assignee": "nobody"})
    assert r.status_code == 409 and "nobody" in r.json()["detail"]
    assert send(api(alice_token), "POST", url, {"action": "fly"}).status_code == 422


def test_a_handler_acts_in_bulk_on_ids_or_a_search(alice_token: str, org: Organization) -> None:
    a, b, c = make_sites(3, org, state=SiteState.LOCATED)
    Site.objects.filter(pk=c.pk).update(state=SiteState.REJECTED)
    client = api(alice_token)
    r = send(
        client,
        "POST",
        "/api/sites/actions",
        {"action": "recheck", "site_ids": [a.pk, c.pk, 99999]},
    )
    assert r.status_code == 200
    assert r.json()["done"] == [a.pk]
    assert {x["site"] for x in r.json()["refused"]} == {c.pk, 99999}
    r = send(
        client,
        "POST",
        "/api/sites/actions",
        {"action": "incident", "title": "campaign", "search": {"state": ["located"]}},
    )
    assert r.status_code == 200 and r.json()["done"] == [a.pk, b.pk]
    incident = Incident.objects.get(title="campaign")
    assert {s.pk for s in incident.sites.all()} == {a.pk, b.pk}
    assert Event.objects.filter(kind=EventKind.INCIDENT_CREATED, actor="api:alice").exists()
    for body in [{"action": "recheck"}, {"action": "recheck", "site_ids": [a.pk], "search": {}}]:
        assert send(client, "POST", "/api/sites/actions", body).status_code == 400


def test_notify_now_queues_a_notice_in_the_organisations_language(
    alice_token: str, org: Organization
) -> None:
    (site,) = make_sites(1, org, state=SiteState.LOCATED)
    r = send(api(alice_token), "POST", f"/api/sites/{site.pk}/actions", {"action": "notify"})
    assert r.status_code == 200, r.json()
    notice = Notice.objects.get(organization=org, kind=NoticeKind.INITIAL)
    assert notice.language == "ja"
    assert Event.objects.get(kind=EventKind.NOTICE_REQUESTED).actor == "api:alice"


def test_a_handler_resends_and_answers_in_a_thread(alice_token: str, org: Organization) -> None:
    (site,) = make_sites(1, org, state=SiteState.NOTIFIED)
    notice = make_notice(org, [site])
    client = api(alice_token)
    r = send(
        client, "POST", f"/api/notices/{notice.pk}/resend", {"recipients": ["noc@net.example"]}
    )
    assert r.status_code == 201, r.json()
    assert r.json()["kind"] == "resend" and r.json()["thread_id"] == notice.pk
    r = send(client, "POST", f"/api/notices/{notice.pk}/resend", {"recipients": ["not mail"]})
    assert r.status_code == 409 and "not an e-mail address" in r.json()["detail"]
    draft = client.get(f"/api/notices/{notice.pk}").json()["draft"]
    assert notice.token in draft
    r = send(client, "POST", f"/api/notices/{notice.pk}/answer", {"body": "Any news?"})
    assert r.status_code == 201 and r.json()["kind"] == "answer"
    r = send(client, "POST", f"/api/notices/{notice.pk}/answer", {"body": "Any news?"})
    assert r.status_code == 409 and "already sent" in r.json()["detail"]
    assert client.get("/api/notices", {"recipient": "noc@net.example"}).json()["count"] == 1


def test_a_handler_links_answers_and_closes_unmatched_mail(
    alice_token: str, bob_token: str, org: Organization
) -> None:
    (site,) = make_sites(1, org, state=SiteState.NOTIFIED)
    notice = make_notice(org, [site])
    inbound = inbound_receive(UNMATCHED_REPLY, mail_from="abuse@net.example")
    assert inbound.kind == InboundKind.UNMATCHED
    client = api(alice_token)
    link = f"/api/inbound/{inbound.pk}/link"
    assert send(api(bob_token), "POST", link, {"notice": notice.pk}).status_code == 403
    assert send(client, "POST", link, {"notice": 99999}).status_code == 400
    r = send(client, "POST", link, {"notice": notice.pk})
    assert r.status_code == 200 and r.json()["notice_id"] == notice.pk
    assert InboundMessage.objects.get(pk=inbound.pk).kind == InboundKind.REPLY
    assert send(client, "POST", link, {"notice": notice.pk}).status_code == 409
    r = send(client, "POST", f"/api/inbound/{inbound.pk}/answer", {"body": "Thank you."})
    assert r.status_code == 201 and r.json()["thread_id"] == notice.pk
    assert r.json()["recipients"] == ["abuse@net.example"]
    other = inbound_receive(UNMATCHED_REPLY.replace(b"removed", b"moved"))
    r = send(client, "POST", f"/api/inbound/{other.pk}/handled", {"note": "duplicate"})
    assert r.status_code == 200 and r.json()["handled_by"] == "api:alice"
    assert send(client, "POST", f"/api/inbound/{other.pk}/handled").status_code == 409


def test_mail_turned_into_a_report_goes_to_intake(alice_token: str) -> None:
    # A reply to nothing of ours, which a handler sees is a report.
    inbound = inbound_receive(
        b"From: friend@partner.example\r\nTo: takedown@csirt.example\r\nSubject: Re: fyi\r\n"
        b"\r\nphishing at hxxp://pay[.]bank-c[.]example/login\r\n"
    )
    assert inbound.kind == InboundKind.UNMATCHED
    client = api(alice_token)
    r = send(client, "POST", f"/api/inbound/{inbound.pk}/report")
    assert r.status_code == 200 and r.json()["report_id"] is not None, r.json()
    sites = client.get("/api/reports", {"site": Site.objects.get().pk}).json()
    assert [x["id"] for x in sites["items"]] == [r.json()["report_id"]]
    assert send(client, "POST", f"/api/inbound/{inbound.pk}/report").status_code == 409


def test_incidents_merge_and_reporters_are_classified_out_of_the_queue(
    alice_token: str, bob_token: str, org: Organization
) -> None:
    a, b = make_sites(2, org)
    first = incident_create(title="one", sites=[a])
    second = incident_create(title="two", sites=[b])
    client = api(alice_token)
    r = send(client, "POST", f"/api/incidents/{second.pk}/merge", {"into": first.pk})
    assert r.status_code == 200 and r.json()["site_ids"] == [a.pk, b.pk]
    assert [i["id"] for i in client.get("/api/incidents").json()["items"]] == [first.pk]
    merged = client.get("/api/incidents", {"merged": "true"}).json()["items"]
    assert {i["id"]: i["merged_into_id"] for i in merged} == {first.pk: None, second.pk: first.pk}
    r = send(client, "POST", f"/api/incidents/{first.pk}/merge", {"into": first.pk})
    assert r.status_code == 409

    reporter = Reporter.objects.create(name="?", email="x@unknown.example", classified=False)
    queue = client.get("/api/queue").json()
    assert queue["counts"] == {"unknown_reporter": 1}
    assert queue["items"][0]["reporter_id"] == reporter.pk
    assert queue["sites_by_state"]["reported"] == 2
    body = {"type": "csirt", "country": "kr", "language": "en", "notify_ack": False}
    url = f"/api/reporters/{reporter.pk}/classify"
    assert send(api(bob_token), "POST", url, body).status_code == 403
    assert send(client, "POST", url, {**body, "country": "Korea"}).status_code == 422
    r = send(client, "POST", url, body)
    assert r.status_code == 200
    assert (r.json()["type"], r.json()["country"], r.json()["classified"]) == ("csirt", "KR", True)
    assert client.get("/api/queue").json()["count"] == 0
    assert client.get("/api/reporters", {"classified": "false"}).json()["count"] == 0


def test_the_queue_pages_and_filters_by_reason(alice_token: str) -> None:
    for i in range(3):
        Reporter.objects.create(name=f"r{i}", email=f"r{i}@x.example", classified=False)
    make_sites(2)
    client = api(alice_token)
    page = client.get("/api/queue", {"limit": 2, "offset": 2}).json()
    assert (page["count"], len(page["items"])) == (3, 1)
    assert page["counts"] == {"unknown_reporter": 3}
    assert page["items"][0]["reason_label"] == "reporter not yet classified"
    assert page["sites_by_state"]["reported"] == 2
    assert client.get("/api/queue", {"reason": "no_contact"}).json()["count"] == 0
    assert client.get("/api/queue", {"reason": "bogus"}).status_code == 422


def test_an_organisations_closure_row(bob_token: str) -> None:
    history = History()
    org = history.org("Example Net A")
    history.case(org, jst(2024, 5, 1, 10), timedelta(hours=5))
    history.case(org, jst(2024, 5, 2, 10), timedelta(hours=3), replied=False)
    client = api(bob_token)
    row = client.get(f"/api/organizations/{org.pk}/stats").json()
    assert (row["org"], row["notices"], row["replied"], row["closed"]) == ("Example Net A", 2, 1, 2)
    assert (row["replies"], row["reply_rate"], row["closure_rate"]) == ("sometimes", 0.5, 1.0)
    assert row["closure_hours"] == {"avg": 4.0, "min": 3.0, "max": 5.0}
    silent = Organization.objects.create(name="Silent")
    assert client.get(f"/api/organizations/{silent.pk}/stats").status_code == 404
