"""The JSON API (django-ninja): one module per resource; OpenAPI at /api/docs.

Every operation is given the role it needs through its auth list (``READ``,
``ACT``, ``ADMIN`` in ``auth.py``); a test walks all operations and fails for
one that has none.  Actions call the same service functions as the UI.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI

from takedown.cases.services import ActionError
from takedown.web.api import (
    actions,
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


@api.exception_handler(ActionError)
def action_refused(request: HttpRequest, exc: ActionError) -> HttpResponse:
    """A service refused a handler's action (the state does not allow it, it was
    already done, a value is wrong): 409 with the reason the UI would show."""
    return api.create_response(request, {"detail": str(exc)}, status=409)


api.add_router("/reports", reports.router)
# Before the sites' own router: its ``/{site_id}`` would take ``/sites/actions``.
api.add_router("/sites", actions.router)
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
