"""Odd ids and dates typed into the pages and the API get a clear answer, never a 500.

Each case here answered 500 before: "²" passes ``str.isdigit`` but not
``int``; thirty digits pass ``int`` but no database column; the day after
9999-12-31 does not exist; PostgreSQL refuses UTC offsets beyond 15:59.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from takedown.cases.models import Event, Incident
from takedown.notices.models import InboundMessage, Notice

pytestmark = pytest.mark.django_db

ODD_IDS = ["\u00b2", "9" * 30, "\u0661\u0662"]


@pytest.mark.parametrize("value", ODD_IDS)
def test_it_answers_odd_ids_in_pages_and_forms_without_a_server_error(
    alice_client: Client, value: str
) -> None:
    incident = Incident.objects.create(title="campaign")
    notice = Notice.objects.create(idempotency_key="k")
    inbound = InboundMessage.objects.create(raw=b"x", sha256="x")
    alice_client.raise_request_exception = False
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("get", "/sites/", {"org": value}),
        ("get", "/sites/", {"reporter": value}),
        ("get", "/sites/", {"incident": value}),
        ("get", "/audit/", {"object": f"site:{value}"}),
        ("get", "/audit/", {"object": f"notice:{value}"}),
        ("post", "/sites/bulk", {"site": value, "action": "note", "text": "x"}),
        ("post", "/sites/bulk", {"scope": "all", "query": f"org={value}", "action": "note",
                                 "text": "x"}),
        ("post", "/sites/bulk", {"site": value, "action": "incident", "incident": value}),
        ("post", f"/incidents/{incident.pk}/merge", {"into": value}),
        ("post", f"/notices/inbound/{inbound.pk}/link", {"notice": value}),
        ("post", f"/notices/{notice.pk}/close", {"inbound": value}),
    ]  # fmt: skip
    for method, url, params in requests:
        r = getattr(alice_client, method)(url, params)
        assert r.status_code < 500, (method, url, params, r.status_code)
    # Nothing was found by those ids, so nothing was merged or noted.
    incident.refresh_from_db()
    assert incident.merged_into is None
    assert not Event.objects.filter(kind="site.note").exists()


def test_it_answers_the_ends_of_the_calendar_without_a_server_error(
    alice_client: Client, alice_token: str
) -> None:
    api = Client(headers={"Authorization": f"Bearer {alice_token}"})
    for url, params in [
        ("/sites/", {"to": "9999-12-31"}),
        ("/sites/", {"from": "0001-01-01"}),
        ("/audit/", {"until": "9999-12-31"}),
        ("/audit/", {"since": "0001-01-01"}),
        ("/api/events", {"since": "0001-01-01", "until": "9999-12-31"}),
        ("/api/sites", {"reported_after": "2020-01-01T00:00:00+23:59"}),
        ("/api/sites", {"reported_before": "9999-12-31T23:59:59"}),
    ]:
        client = api if url.startswith("/api") else alice_client
        assert client.get(url, params).status_code == 200, (url, params)
    # A moment with no UTC equivalent is a bad parameter, said as such.
    for params in [
        {"reported_after": "0001-01-01T00:00:00+05:00"},
        {"reported_before": "9999-12-31T23:59:59-05:00"},
    ]:
        assert api.get("/api/sites", params).status_code == 422, params
