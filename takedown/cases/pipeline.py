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
    """New sites (or re-reported ones that need a fresh look) enter the loop (locate).

    Located in batches of ``settings.LOCATE_BATCH_SIZE``, each one background
    task; sites already past locating are skipped by the task.
    """
    if not site_ids:
        return
    from django.conf import settings

    from takedown.locate.tasks import locate_sites_task

    ids = list(dict.fromkeys(site_ids))
    size = settings.LOCATE_BATCH_SIZE
    for i in range(0, len(ids), size):
        locate_sites_task(ids[i : i + size])


def report_received(report_id: int) -> None:
    """A report was stored: acknowledge it to the reporter (notices)."""
    from takedown.notices.tasks import reporter_ack_task

    reporter_ack_task(report_id)


def sites_located(site_ids: list[int]) -> None:
    """Located sites get their first check (monitor): recurrence links, then next_check=now."""
    if not site_ids:
        return
    from takedown.monitor.tasks import sites_schedule

    sites_schedule(list(site_ids))


def site_seen_up(site_id: int) -> None:
    """The first check found the site up (monitor): plan the notice to its organisation.

    The site joins its organisation's collecting notice; the ``mail`` loop
    sends it when the batching window closes (docs/notices.md).
    """
    from takedown.notices.tasks import notice_plan_task

    notice_plan_task(site_id)


def site_confirmed_down(site_id: int) -> None:
    """A takedown was confirmed (monitor): tell the reporter(s), then close the site.

    CLOSED is reached even when no reporter is to be told.
    """
    from takedown.notices.tasks import site_close_task

    site_close_task(site_id)


def site_revived(site_id: int) -> None:
    """A closed site is up again (monitor): notify its organisation again.

    The new notice names the earlier one (notices).
    """
    from takedown.notices.tasks import notice_plan_task

    notice_plan_task(site_id)
