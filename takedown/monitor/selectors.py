"""Reads of the monitor's state for other parts: the handlers' queue.

docs/monitor.md ("What inconclusive checks do") explains when a site is listed.
An item's ``detail`` is English, as every step writes it (``takedown queue
--json`` and the API read it); ``takedown.web.texts`` says it in the reader's
language.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from takedown.cases.attention import HandlerItem, Reason
from takedown.monitor.models import Watch
from takedown.monitor.services import OPEN_CHECKED


def handler_items(now: datetime) -> list[HandlerItem]:
    """Open sites whose checks have proved nothing for longer than INCONCLUSIVE_AFTER.

    Only open sites (located, notified, revived): for them the automation is
    stuck, unable either to confirm a takedown or to see the page.  A site
    already down stays down until an up check, so its inconclusive checks
    block nothing.  The item goes away at the next up or down check.
    """
    cutoff = now - timedelta(seconds=settings.INCONCLUSIVE_AFTER)
    rows = Watch.objects.filter(
        inconclusive_since__lte=cutoff,
        site__state__in=OPEN_CHECKED,
        site__next_check__isnull=False,
    ).values_list("site_id", "inconclusive_since", "inconclusive_streak", "last_outcome")
    return [
        HandlerItem(
            reason=Reason.INCONCLUSIVE,
            since=since,
            site_id=site_id,
            # The last outcome as its code (``timeout``, ``http_error`` ...).
            detail=f"{streak} inconclusive checks in a row, the last: {outcome}",
        )
        for site_id, since, streak, outcome in rows
        if since is not None  # always, by the filter; for the type checker
    ]
