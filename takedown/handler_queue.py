"""The handlers' queue: every item, from every step, that needs a human.

Each step derives its own items from the state it owns, in its
``selectors.handler_items``; this module (above the steps, like the loop's
hand-off map) gathers them.  Used by the dashboard, the API and
``takedown queue``.  docs/architecture.md lists the reasons and where each
comes from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable
from datetime import datetime

from django.utils import timezone

from takedown.cases import selectors as cases_selectors
from takedown.cases.attention import HandlerItem, Reason
from takedown.cases.models import Site
from takedown.intake import selectors as intake_selectors
from takedown.monitor import selectors as monitor_selectors
from takedown.notices import selectors as notices_selectors

# Where items come from: one function per step, each ``(now) -> items``.
SOURCES: tuple[Callable[[datetime], Iterable[HandlerItem]], ...] = (
    cases_selectors.handler_items,
    intake_selectors.handler_items,
    monitor_selectors.handler_items,
    notices_selectors.handler_items,
)


def handler_items(
    *,
    now: datetime | None = None,
    reasons: Collection[str] | None = None,
    include_historical: bool = False,
) -> list[HandlerItem]:
    """Every item that needs a handler, oldest first.

    ``reasons`` keeps only those codes (``Reason`` values).  Items about sites
    imported as history are left out unless ``include_historical``: a
    published list of past takedowns is not a backlog.
    """
    now = now or timezone.now()
    wanted = set(reasons) if reasons is not None else None
    if wanted is not None and not wanted <= set(Reason.values):
        raise ValueError(f"unknown reasons: {', '.join(sorted(wanted - set(Reason.values)))}")
    items = [
        item
        for source in SOURCES
        for item in source(now)
        if wanted is None or item.reason in wanted
    ]
    if not include_historical:
        site_ids = {item.site_id for item in items if item.site_id is not None}
        historical = set(
            Site.objects.filter(pk__in=site_ids, historical=True).values_list("pk", flat=True)
        )
        items = [item for item in items if item.site_id not in historical]
    return sorted(items, key=lambda item: (item.since, item.reason))


def handler_item_counts(items: Iterable[HandlerItem]) -> dict[str, int]:
    """Items per reason, in the order of ``Reason``, zero counts left out."""
    counts = Counter(item.reason for item in items)
    return {reason: counts[reason] for reason in Reason.values if counts[reason]}
