"""Where one step of the loop hands work to the next.

Each function here is called after the transaction that produced the work has
committed, and only enqueues background tasks: the steps themselves live in
their packages (locate, monitor, notices).  Keeping the hand-offs in one
module means the whole loop can be read in one place:

report -> ``sites_reported`` -> locate -> ``sites_located`` -> first check
-> (up) notice / (down) already_down -> checks -> confirmed down -> reporter told.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def sites_reported(site_ids: list[int]) -> None:
    """New sites (or re-reported ones that need a fresh look) enter the loop."""
    if not site_ids:
        return
    log.debug("sites reported: %d", len(site_ids))


def report_received(report_id: int) -> None:
    """A report was stored: acknowledge it to the reporter."""
    log.debug("report received: %d", report_id)
