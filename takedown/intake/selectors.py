"""Reads of intake's state that other parts share: the handlers' queue items it owns."""

from __future__ import annotations

from datetime import datetime

from takedown.cases.attention import HandlerItem, Reason
from takedown.intake.models import Reporter


def handler_items(now: datetime) -> list[HandlerItem]:
    """Reporters nobody classified yet (mail from an unknown sender).

    The item goes away when a handler classifies the reporter
    (``intake.services.reporter_classify``).
    """
    return [
        HandlerItem(
            reason=Reason.UNKNOWN_REPORTER,
            since=created,
            reporter_id=pk,
            detail=email or name,
        )
        for pk, created, email, name in Reporter.objects.filter(classified=False)
        .order_by("created", "pk")
        .values_list("pk", "created", "email", "name")
    ]
