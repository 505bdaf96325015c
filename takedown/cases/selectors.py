"""Reads of sites and incidents that several pages, the API and the CLI share."""

from __future__ import annotations

from datetime import datetime

from takedown.cases.attention import HandlerItem, Reason
from takedown.cases.models import Site, SiteState


def handler_items(now: datetime) -> list[HandlerItem]:
    """Sites the automation gave up on.

    Unresolvable: no address was found for the host.  The locate step retries
    on its own schedule; until the durable loop records when retries are
    exhausted, every unresolvable site is listed.
    """
    return [
        HandlerItem(
            reason=Reason.UNRESOLVABLE,
            since=changed,
            site_id=pk,
            detail=host,
        )
        for pk, changed, host in Site.objects.filter(state=SiteState.UNRESOLVABLE).values_list(
            "pk", "state_changed", "host"
        )
    ]
