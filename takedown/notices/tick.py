"""One round of the notices step's periodic work, as the ``mail`` process runs it."""

from __future__ import annotations

from datetime import datetime

from takedown.notices.escalation import notices_process_deadlines
from takedown.notices.inbound import inbound_process_pending
from takedown.notices.outbox import outbox_flush
from takedown.notices.planning import notices_compose_due


def mail_tick(*, now: datetime | None = None) -> int:
    """Compose due notices, act on passed deadlines, send the outbox; return the work found.

    Also processes inbound mail a crashed process stored but never processed.
    """
    work = inbound_process_pending(now=now)
    work += notices_compose_due(now=now)
    work += notices_process_deadlines(now=now)
    work += outbox_flush(now=now)
    return work
