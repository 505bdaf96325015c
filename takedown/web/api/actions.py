"""The handler's actions on sites, one site or a selection: ``takedown.actions`` over HTTP.

The action names and what each does are the catalogue the site page, the
queue and the bulk form use (``ACTIONS``), applied through ``sites_act`` and
so through one service function each; an action added there is offered here
too.  A selection is a list of ids or a search (the ``GET /api/sites``
filters), at most ``BULK_LIMIT`` sites, as in the UI.
"""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status
from pydantic import AfterValidator

from takedown.actions import ACTIONS, BULK_LIMIT, sites_act
from takedown.cases.models import Site
from takedown.web.api.auth import ACT, api_actor
from takedown.web.api.common import ErrorOut, Id, Text
from takedown.web.api.sites import SiteFilters, sites_filter

router = Router(tags=["sites"])


def _known_action(name: str) -> str:
    if name not in ACTIONS:
        raise ValueError(f"unknown action (one of {', '.join(ACTIONS)})")
    return name


ActionName = Annotated[
    str,
    AfterValidator(_known_action),
    # The schema lists the catalogue as it is when the API is built.
    Field(json_schema_extra={"enum": list(ACTIONS)}),
]


class ActionIn(Schema):
    """An action and its parameters; each action reads only its own (``ACTIONS``)."""

    action: ActionName
    reason: Text = Field("", description="reject (required), reopen")
    text: Text = Field("", description="note")
    assignee: Text = Field("", description="assign: a user name; empty or - releases the site")
    recipients: list[Text] = Field(
        [], max_length=50, description="notify: addresses instead of the directory's"
    )
    incident: Id | None = Field(None, description="incident: add the sites to this incident")
    title: Text = Field("", description="incident: or create one with this title")

    def params(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "text": self.text,
            "assignee": self.assignee,
            "recipients": self.recipients,
            "incident": "" if self.incident is None else str(self.incident),
            "title": self.title,
        }


class RefusedOut(Schema):
    site: int
    reason: str


class ActionOut(Schema):
    """The sites the action was applied to, and why each other one was not."""

    action: str
    done: list[int]
    refused: list[RefusedOut]


@router.post("/{site_id}/actions", response={200: ActionOut, 409: ErrorOut}, auth=ACT)
def site_act(request: HttpRequest, site_id: Id, payload: ActionIn) -> Any:
    """Apply one action to one site; 409 with the reason when it is refused."""
    site = get_object_or_404(Site, pk=site_id)
    result = sites_act(
        action=payload.action, sites=[site], actor=api_actor(request), params=payload.params()
    )
    if result.refused:
        return Status(409, {"detail": result.refused[0][1]})
    return result.as_dict()


class BulkActionIn(ActionIn):
    """``site_ids``, or ``search`` for every site matching it (at most 5,000 sites)."""

    site_ids: list[Id] = Field([], max_length=BULK_LIMIT)
    search: SiteFilters | None = None


@router.post("/actions", response={200: ActionOut, 400: ErrorOut, 409: ErrorOut}, auth=ACT)
def sites_bulk_act(request: HttpRequest, payload: BulkActionIn) -> Any:
    """Apply one action to many sites: each refusal is listed, none stops the others.

    An id that names no site is listed as refused.  409 when the action's
    parameters are wrong for every site (an unknown user, a bad address).
    """
    if bool(payload.site_ids) == (payload.search is not None):
        raise HttpError(400, "give either site_ids or search")
    missing: list[int] = []
    if payload.search is not None:
        sites = list(sites_filter(payload.search)[: BULK_LIMIT + 1])
        if len(sites) > BULK_LIMIT:
            raise HttpError(400, f"the search matches more than {BULK_LIMIT} sites: narrow it")
    else:
        wanted = list(dict.fromkeys(payload.site_ids))
        found = Site.objects.in_bulk(wanted)
        sites = [found[pk] for pk in wanted if pk in found]
        missing = [pk for pk in wanted if pk not in found]
    result = sites_act(
        action=payload.action, sites=sites, actor=api_actor(request), params=payload.params()
    )
    result.refused.extend((pk, "no such site") for pk in missing)
    return result.as_dict()
