"""The handlers' queue: what needs a human, with counts, and the sites by state.

The same items as the dashboard and ``takedown queue --json``
(``takedown.handler_queue``); each names the site, notice, mail, report or
reporter it concerns, and the actions on those are the other endpoints
(``/api/sites/{id}/actions``, ``/api/inbound/{id}/link``,
``/api/reporters/{id}/classify``, ``/api/notices/{id}/resend`` ...).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from takedown.cases.attention import Reason
from takedown.cases.selectors import site_counts_by_state
from takedown.handler_queue import handler_item_counts, handler_items
from takedown.web.api.auth import READ
from takedown.web.api.common import Limit, Offset

router = Router(tags=["queue"])


class QueueItemOut(Schema):
    reason: str
    reason_label: str = Field(description="the reason in the request's language")
    since: datetime
    detail: str
    site_id: int | None
    notice_id: int | None
    inbound_id: int | None
    report_id: int | None
    reporter_id: int | None


class QueueOut(Schema):
    """One page of items, oldest first; ``count`` and ``counts`` cover every page."""

    count: int
    limit: int
    offset: int
    counts: dict[str, int] = Field(description="items per reason")
    sites_by_state: dict[str, int]
    items: list[QueueItemOut]


class QueueQuery(Schema):
    reason: list[Reason] = Field([], description="only these reasons")
    historical: bool = Field(False, description="include sites imported as history")


@router.get("", response=QueueOut, auth=READ)
def get_queue(
    request: HttpRequest, q: Query[QueueQuery], limit: Limit = 100, offset: Offset = 0
) -> Any:
    """Every item that needs a handler, oldest first, and the sites by state."""
    items = handler_items(
        reasons=[str(r) for r in q.reason] or None, include_historical=q.historical
    )
    page = items[offset : offset + limit]
    return {
        "count": len(items),
        "limit": limit,
        "offset": offset,
        "counts": handler_item_counts(items),
        "sites_by_state": site_counts_by_state(include_historical=q.historical),
        "items": [{**vars(item), "reason_label": item.reason_label} for item in page],
    }
