"""What the API tests share: a client with a token, JSON requests, a small world."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from takedown.cases.models import Site
from takedown.cases.services import sites_create_bulk
from takedown.locate.models import Organization
from takedown.notices.models import Notice, NoticeState


def api(token: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {token}"})


def send(client: Client, method: str, url: str, body: Any = None) -> Any:
    return client.generic(method, url, data=json.dumps(body or {}), content_type="application/json")


def make_org(name: str = "Example Net") -> Organization:
    return Organization.objects.create(
        name=name,
        kind="isp",
        language="ja",
        country="JP",
        asn=64500,
        abuse_emails=["abuse@net.example"],
        registry_data={"kind": "isp", "abuse_emails": ["abuse@net.example"], "language": "ja"},
    )


def make_sites(n: int, org: Organization | None = None, **fields: Any) -> list[Site]:
    """``n`` sites on bank.example, held by ``org``, with ``fields`` set as given."""
    rows = [
        {"url": f"http://login{i}.bank.example/", "host": f"login{i}.bank.example",
         "registered_domain": "bank.example"}
        for i in range(n)
    ]  # fmt: skip
    by_url = sites_create_bulk(rows)
    sites = [by_url[row["url"]] for row in rows]
    Site.objects.filter(pk__in=[s.pk for s in sites]).update(organization=org, **fields)
    for site in sites:
        site.refresh_from_db()
    return sites


def make_notice(org: Organization, sites: list[Site], key: str = "test-1") -> Notice:
    """A notice sent to ``org`` about ``sites`` (as the outbox would have left it)."""
    notice = Notice.objects.create(
        organization=org,
        state=NoticeState.SENT,
        idempotency_key=key,
        subject="[TKD#N1] Phishing site",
        body="Please take down hxxp://login0[.]bank[.]example/",
        recipients=["abuse@net.example"],
        message_id=f"<{key}@takedown.example>",
    )
    notice.sites.add(*sites)
    Notice.objects.filter(pk=notice.pk).update(sent_at=notice.created)
    notice.refresh_from_db()
    return notice
