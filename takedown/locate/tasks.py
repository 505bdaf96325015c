"""Background work of the locate step (Huey).

Thin wrappers: the work is ``services.sites_locate``.  A batch is located with
asyncio inside the task (concurrent DNS and registry queries); failures are
recorded per site and retried later by the service, never raised here, so a
worker never dies on hostile input.
"""

from __future__ import annotations

import logging

from huey.contrib.djhuey import db_task

log = logging.getLogger(__name__)


@db_task()
def locate_sites_task(site_ids: list[int]) -> dict[str, list[int]] | None:
    from takedown.locate.services import sites_locate

    try:
        return sites_locate(list(site_ids))
    except Exception:
        # The service records per-site failures itself; reaching here means a
        # bug or a database outage.  Logged, and the sites stay "reported" for
        # the next report or a handler's retry.
        log.exception("locating sites %s failed", site_ids[:20])
        return None
