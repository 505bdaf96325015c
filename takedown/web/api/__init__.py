"""The JSON API (django-ninja): one module per resource; OpenAPI at /api/docs.

Every operation is given the role it needs through its auth list (``READ``,
``ACT``, ``ADMIN`` in ``auth.py``); a test walks all operations and fails for
one that has none.  Actions call the same service functions as the UI.
"""

from __future__ import annotations

from ninja import NinjaAPI

from takedown.web.api import (
    audit,
    directory,
    handler_queue,
    notices,
    organizations,
    reports,
    sites,
    stats,
)
from takedown.web.api.auth import ADMIN
from takedown.web.api.common import StrictJSONParser

api = NinjaAPI(
    title="Takedown API",
    version="1",
    description=(
        "Everything the handler UI does. "
        "Authenticate with `Authorization: Bearer tkd_...` (`takedown token create USER`)."
    ),
    # Each operation names its role; one that forgets is for admins only.
    auth=ADMIN,
    parser=StrictJSONParser(),
    urls_namespace="api",
)
api.add_router("/reports", reports.router)
api.add_router("/sites", sites.router)
api.add_router("/notices", notices.router)
api.add_router("/inbound", notices.inbound_router)
api.add_router("/bad-addresses", notices.bad_router)
api.add_router("/organizations", organizations.router)
api.add_router("/reporters", directory.reporters)
api.add_router("/incidents", directory.incidents)
api.add_router("/stats", stats.router)
api.add_router("/events", audit.router)
api.add_router("/queue", handler_queue.router)

__all__ = ["api"]
