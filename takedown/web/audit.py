"""The audit trail: who did what, read from the timeline (``cases.Event``).

Nothing is written here: every service that changes something appends its
Event with an ``actor``, so the timeline already is the audit log.  This
module only selects from it (``events_audit``, shared by the page and the API)
and shows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from takedown.access.roles import Role, role_required
from takedown.cases.models import Event, EventKind, SiteState
from takedown.lib.ids import parse_id

# Actors that are the service itself rather than a person.
MACHINE_ACTORS = ("system", "import")
PAGE_SIZE = 50

# object filter: "<type>:<id>"; columns of Event first, then keys of Event.data.
_COLUMNS = {
    "site": "site_id",
    "org": "organization_id",
    "organization": "organization_id",
    "report": "report_id",
    "incident": "incident_id",
}
_DATA_KEYS = {"notice", "inbound", "reporter", "user", "token", "countrycsirt", "outbox"}
_OBJECT = re.compile(r"^\s*([a-z]+)\s*[:#]\s*(\S{1,150})\s*$")


class AuditFilterError(ValueError):
    """A filter value that cannot be understood; the message says which."""


def object_q(text: str) -> Q:
    """``site:12``, ``org:3``, ``notice:5``, ``user:bob``, ``token:tkd_AbCd`` ... as a filter."""
    match = _OBJECT.match(text)
    if not match:
        raise AuditFilterError(_("Write the object as type:id, for example site:12 or user:alice."))
    kind, ident = match.group(1), match.group(2)
    number = parse_id(ident)
    if kind in _COLUMNS:
        if number is None:
            raise AuditFilterError(_("%(type)s needs a number.") % {"type": kind})
        return Q(**{_COLUMNS[kind]: number})
    if kind in _DATA_KEYS:
        value: Any = number if number is not None and kind not in {"user", "token"} else ident
        return Q(**{f"data__{kind}": value})
    raise AuditFilterError(_("Unknown object type %(type)s.") % {"type": kind})


def actor_q(actor: str) -> Q:
    """A user's actions through every door: ``alice`` matches ``alice`` and ``api:alice``."""
    actor = actor.strip()
    return Q(actor=actor) | Q(actor__endswith=f":{actor}")


def kind_q(kind: str) -> Q:
    """An exact kind, or a family: ``notice`` matches ``notice.sent``, ``notice.closed``..."""
    kind = kind.strip().rstrip(".")
    return Q(kind=kind) | Q(kind__startswith=f"{kind}.")


@dataclass
class AuditFilters:
    actor: str = ""
    kind: str = ""
    object: str = ""
    since: date | None = None
    until: date | None = None
    # "people" (default: what handlers, admins, the CLI and the API did),
    # "system" (what the service did by itself) or "all".
    who: str = "people"


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def events_audit(f: AuditFilters) -> QuerySet[Event]:
    """Events matching every filter, newest first; ``until`` includes that whole day."""
    qs = Event.objects.select_related("site", "organization")
    if f.who == "people":
        qs = qs.exclude(actor__in=MACHINE_ACTORS)
    elif f.who == "system":
        qs = qs.filter(actor__in=MACHINE_ACTORS)
    elif f.who != "all":
        raise AuditFilterError(_("who must be people, system or all."))
    if f.actor.strip():
        qs = qs.filter(actor_q(f.actor))
    if f.kind.strip():
        qs = qs.filter(kind_q(f.kind))
    if f.object.strip():
        qs = qs.filter(object_q(f.object))
    # The first and last days a date can name bound nothing (and the day
    # after the last one does not exist).
    if f.since and f.since > date.min:
        qs = qs.filter(at__gte=_start_of(f.since))
    if f.until and f.until < date.max:
        qs = qs.filter(at__lt=_start_of(f.until + timedelta(days=1)))
    return qs.order_by("-at", "-id")


def _date(raw: str, errors: list[str]) -> date | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(_("%(value)s is not a date (YYYY-MM-DD).") % {"value": raw[:40]})
        return None


def _links(event: Event) -> list[tuple[str, str]]:
    """(label, URL or "") for each object the event concerns."""
    data = event.data if isinstance(event.data, dict) else {}
    pages = [
        (_("site %(id)s"), "site_detail", event.site_id),
        (_("organisation %(id)s"), "locate:org_detail", event.organization_id),
        (_("report %(id)s"), "report_detail", event.report_id),
        (_("notice %(id)s"), "notice_detail", data.get("notice")),
        (_("inbound mail %(id)s"), "inbound_detail", data.get("inbound")),
    ]
    links = [
        (label % {"id": ident}, reverse(name, args=[ident]))
        for label, name, ident in pages
        if isinstance(ident, int) and not isinstance(ident, bool)
    ]
    others = [
        (_("user %(id)s"), "user"),
        (_("token %(id)s"), "token"),
        (_("reporter %(id)s"), "reporter"),
        (_("national CSIRT %(id)s"), "countrycsirt"),
    ]
    links += [(label % {"id": data[key]}, "") for label, key in others if data.get(key)]
    return links


def _state_label(value: str) -> str:
    try:
        return str(SiteState(value).label) if value else ""
    except ValueError:
        return value


@role_required(Role.VIEWER)
def audit(request: HttpRequest) -> HttpResponse:
    errors: list[str] = []
    g = request.GET
    who = g.get("who", "people")
    f = AuditFilters(
        actor=g.get("actor", "")[:150],
        kind=g.get("kind", "")[:64],
        object=g.get("object", "")[:200],
        since=_date(g.get("since", ""), errors),
        until=_date(g.get("until", ""), errors),
        who=who if who in {"people", "system", "all"} else "people",
    )
    try:
        qs = events_audit(f)
    except AuditFilterError as exc:
        errors.append(str(exc))
        f.object = ""
        qs = events_audit(f)
    page = Paginator(qs, PAGE_SIZE).get_page(g.get("page"))
    params = [(k, str(v)) for k, v in g.items() if k != "page" and v]
    return render(
        request,
        "web/audit.html",
        {
            "page": page,
            "rows": [(e, _links(e), _state_label(e.to_state)) for e in page],
            "kinds": EventKind.choices,
            "f": f,
            "errors": errors,
            "query": urlencode(params),
        },
        status=400 if errors else 200,
    )
