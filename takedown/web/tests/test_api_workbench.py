"""The handler's workbench through the API: the queue, the search, an organisation's row."""

from __future__ import annotations

from datetime import timedelta

import pytest

from takedown.cases.models import Site
from takedown.cases.services import incident_create
from takedown.intake.models import Reporter
from takedown.locate.models import Organization
from takedown.stats.tests.history import History, jst
from takedown.web.tests.api_helpers import api, make_org, make_sites

pytestmark = pytest.mark.django_db


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
