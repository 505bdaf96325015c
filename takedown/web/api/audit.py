"""The audit trail: who did what, from the timeline (the /audit/ page's filters)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.errors import HttpError

from takedown.web.api.auth import READ
from takedown.web.api.common import Limit, Offset, Page, Text, page_of
from takedown.web.api.sites import EventOut, event_out
from takedown.web.audit import AuditFilterError, AuditFilters, events_audit

router = Router(tags=["audit"])


class Who(StrEnum):
    PEOPLE = "people"
    SYSTEM = "system"
    ALL = "all"


class AuditQuery(Schema):
    actor: Text = ""
    kind: Text = ""
    object: Text = ""
    since: date | None = None
    until: date | None = None
    who: Who = Who.PEOPLE


@router.get("", response=Page[EventOut], auth=READ)
def list_events(
    request: HttpRequest, q: Query[AuditQuery], limit: Limit = 100, offset: Offset = 0
) -> Any:
    """Events newest first. ``actor`` matches a user through every door (``alice``,
    ``api:alice``); ``kind`` an exact kind or a family (``notice``); ``object`` is
    ``type:id`` (``site:12``, ``org:3``, ``notice:5``, ``user:bob``, ``token:tkd_AbCd``);
    ``since``/``until`` are days in the service's time zone, both included;
    ``who`` is ``people`` (default), ``system`` or ``all``."""
    try:
        qs = events_audit(AuditFilters(**q.dict()))
        return page_of(qs, limit=limit, offset=offset, out=event_out)
    except AuditFilterError as exc:
        raise HttpError(400, str(exc)) from None
