"""Statistics: the seed's tables and more, as ``takedown stats --format json`` prints them."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from takedown.stats.selectors import stats_as_json, stats_get
from takedown.web.api.auth import READ

router = Router(tags=["statistics"])


class StatsQuery(Schema):
    fy: int | None = Field(None, ge=2000, le=2100, description="fiscal year (April-March)")


@router.get("", response=dict[str, Any], auth=READ)
def get_stats(request: HttpRequest, q: Query[StatsQuery]) -> Any:
    """The statistics of one fiscal year (April-March, ``fy``) or of everything.

    The shape is the CLI's JSON (``docs/stats.md``; the contract in CONTRACT.md).
    """
    try:
        return stats_as_json(stats_get(fy=q.fy))
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
