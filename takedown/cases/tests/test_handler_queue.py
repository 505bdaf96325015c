"""The handlers' queue gathers what every step could not finish (``takedown queue``)."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from takedown.cases.attention import Reason
from takedown.cases.models import Site, SiteState, Work
from takedown.cases.services import site_transition, sites_create_bulk
from takedown.handler_queue import handler_item_counts, handler_items
from takedown.notices.models import (
    InboundKind,
    InboundMessage,
    Notice,
    NoticeState,
    OutboxMessage,
    OutboxState,
)

pytestmark = pytest.mark.django_db


def _site(url: str, *, historical: bool = False) -> Site:
    host = url.split("/")[2]
    site = sites_create_bulk(
        [{"url": url, "host": host, "registered_domain": host}], historical=historical
    )[url]
    site_transition(site, SiteState.UNRESOLVABLE)
    # Its last locate retry is spent: no locate step is left to run.
    Work.objects.filter(site=site).delete()
    return site


def _stuck_world() -> dict[str, Any]:
    site = _site("http://gone.example/")
    _site("http://old.example/", historical=True)
    failed = Notice.objects.create(idempotency_key="n1", state=NoticeState.FAILED, error="550")
    uncertain = Notice.objects.create(idempotency_key="n2", state=NoticeState.SENT)
    OutboxMessage.objects.create(
        notice=uncertain, message_id="<m2@x>", raw=b"", state=OutboxState.UNCERTAIN
    )
    mail = InboundMessage.objects.create(
        raw=b"x", sha256="0", kind=InboundKind.UNMATCHED, reason="no token <script>"
    )
    InboundMessage.objects.create(
        raw=b"y", sha256="1", kind=InboundKind.UNMATCHED, handled_by="alice"
    )
    return {"site": site, "failed": failed, "uncertain": uncertain, "mail": mail}


def test_it_lists_each_stuck_thing_once_with_its_reason() -> None:
    world = _stuck_world()
    items = handler_items()
    about = {(i.reason, i.site_id or i.notice_id or i.inbound_id) for i in items}
    assert about == {
        (Reason.UNRESOLVABLE, world["site"].pk),
        (Reason.NOTICE_FAILED, world["failed"].pk),
        (Reason.NOTICE_UNCERTAIN, world["uncertain"].pk),
        (Reason.UNMATCHED_MAIL, world["mail"].pk),
    }
    assert handler_item_counts(items) == {
        "unresolvable": 1,
        "unmatched_mail": 1,
        "notice_failed": 1,
        "notice_uncertain": 1,
    }


def test_it_keeps_imported_history_apart_unless_asked() -> None:
    _stuck_world()
    items = handler_items(include_historical=True, reasons=["unresolvable"])
    ids = [i.site_id for i in items if i.site_id is not None]
    hosts = set(Site.objects.filter(pk__in=ids).values_list("host", flat=True))
    assert hosts == {"gone.example", "old.example"}


def test_it_refuses_an_unknown_reason() -> None:
    with pytest.raises(ValueError, match="unknown reasons: bogus"):
        handler_items(reasons=["bogus"])


def test_the_command_prints_json_and_a_summary() -> None:
    world = _stuck_world()
    out = StringIO()
    call_command("queue", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["counts"]["unmatched_mail"] == 1
    mail = next(i for i in data["items"] if i["reason"] == "unmatched_mail")
    assert mail["inbound_id"] == world["mail"].pk
    assert mail["detail"] == "no token <script>"
    out = StringIO()
    call_command("queue", "--reason", "notice_failed", stdout=out)
    lines = out.getvalue().splitlines()
    assert f"notice={world['failed'].pk}" in lines[0]
    assert lines[-1] == "1 items: 1 notice_failed"
