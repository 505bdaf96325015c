"""Reads of notices and inbound mail: what the handlers' queue shows of this step."""

from __future__ import annotations

from datetime import datetime

from takedown.cases.attention import HandlerItem, Reason
from takedown.notices.models import (
    InboundKind,
    InboundMessage,
    Notice,
    NoticeState,
    OutboxMessage,
    OutboxState,
)


def handler_items(now: datetime) -> list[HandlerItem]:
    """Failed or uncertain notices, and inbound mail nobody has handled yet."""
    items: list[HandlerItem] = []
    for notice in Notice.objects.filter(state=NoticeState.FAILED).only("pk", "created", "error"):
        items.append(
            HandlerItem(
                reason=Reason.NOTICE_FAILED,
                since=notice.created,
                notice_id=notice.pk,
                detail=notice.error[:300],
            )
        )
    for row in OutboxMessage.objects.filter(state=OutboxState.UNCERTAIN).only(
        "notice_id", "claimed_at", "created", "last_error"
    ):
        items.append(
            HandlerItem(
                reason=Reason.NOTICE_UNCERTAIN,
                since=row.claimed_at or row.created,
                notice_id=row.notice_id,
                detail=row.last_error[:300],
            )
        )
    reasons = {InboundKind.UNMATCHED: Reason.UNMATCHED_MAIL, InboundKind.ERROR: Reason.MAIL_ERROR}
    for mail in InboundMessage.objects.filter(kind__in=list(reasons), handled_by="").only(
        "pk", "kind", "received", "reason", "notice_id", "report_id"
    ):
        items.append(
            HandlerItem(
                reason=reasons[InboundKind(mail.kind)],
                since=mail.received,
                inbound_id=mail.pk,
                notice_id=mail.notice_id,
                report_id=mail.report_id,
                detail=mail.reason[:300],
            )
        )
    return items
