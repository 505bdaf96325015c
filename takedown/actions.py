"""The handler's actions on sites, by name: one catalogue for the site page, the queue,
bulk actions on a search and the JSON API.

Each action is one service function of the domain it belongs to (``cases``
for the site itself and incidents, ``notices`` for notices); this module
only names them, says which parameters each takes, and applies one to many
sites, collecting per-site refusals instead of stopping at the first
(docs/workbench.md).  It sits above the apps, like the queue, because it
reaches into more than one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DatabaseError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from takedown.cases.models import Incident, Site
from takedown.cases.services import (
    ActionError,
    InvalidTransition,
    incident_add_sites,
    incident_create,
    site_assign,
    site_mark_reviewed,
    site_note_add,
    site_recheck,
    site_reject,
    site_reopen,
)
from takedown.lib.ids import parse_id

# "Every site matching the search" acts on at most this many at once (UI and API).
BULK_LIMIT = 5000


@dataclass(frozen=True)
class SiteAction:
    name: str
    label: Any
    # Parameters the action needs (names of form fields / JSON keys).
    params: tuple[str, ...] = ()
    per_site: Callable[..., Any] | None = None
    together: Callable[..., Any] | None = None
    danger: bool = False


@dataclass
class ActionResult:
    """What a (bulk) action did: the sites done, and why the others were not."""

    action: str
    done: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "done": self.done,
            "refused": [{"site": pk, "reason": reason} for pk, reason in self.refused],
        }


def _assignee(params: Mapping[str, Any]) -> Any:
    name = str(params.get("assignee") or "").strip()
    if not name or name == "-":
        return None
    user = get_user_model().objects.filter(username=name, is_active=True).first()
    if user is None:
        raise ActionError(gettext("no active user %(name)r") % {"name": name})
    return user


def _recipients(params: Mapping[str, Any]) -> list[str] | None:
    raw = params.get("recipients")
    if raw in (None, "", []):
        return None
    if isinstance(raw, str):
        raw = raw.replace(";", ",").replace("\n", ",").split(",")
    return [str(r).strip() for r in raw if str(r).strip()]


def _incident(params: Mapping[str, Any]) -> Incident | None:
    raw = str(params.get("incident") or "").strip().lstrip("#")
    if not raw:
        return None
    number = parse_id(raw)
    if number is None:
        raise ActionError(gettext("%(raw)r is not an incident number") % {"raw": raw})
    incident = Incident.objects.filter(pk=number).first()
    if incident is None:
        raise ActionError(gettext("no incident %(raw)s") % {"raw": raw})
    return incident


def _notify(sites: list[Site], actor: str, params: Mapping[str, Any]) -> list[int]:
    from takedown.notices.actions import sites_notify_now

    sites_notify_now(sites=sites, actor=actor, recipients=_recipients(params))
    return [s.pk for s in sites]


def _to_incident(sites: list[Site], actor: str, params: Mapping[str, Any]) -> list[int]:
    incident = _incident(params)
    if incident is None:
        title = str(params.get("title") or "").strip()
        if not title:
            raise ActionError(gettext("name an incident number, or a title for a new incident"))
        incident_create(title=title, sites=sites, actor=actor)
        return [s.pk for s in sites]
    incident_add_sites(incident=incident, sites=sites, actor=actor)
    return [s.pk for s in sites]


ACTIONS: dict[str, SiteAction] = {
    a.name: a
    for a in [
        SiteAction(
            "recheck",
            _("Re-check now"),
            per_site=lambda site, actor, p: site_recheck(site=site, actor=actor),
        ),
        SiteAction("notify", _("Notify now"), ("recipients",), together=_notify),
        SiteAction(
            "reject",
            _("Reject as false positive"),
            ("reason",),
            per_site=lambda site, actor, p: site_reject(
                site=site, actor=actor, reason=str(p.get("reason") or "")
            ),
            danger=True,
        ),
        SiteAction(
            "reopen",
            _("Reopen"),
            ("reason",),
            per_site=lambda site, actor, p: site_reopen(
                site=site, actor=actor, reason=str(p.get("reason") or "")
            ),
        ),
        SiteAction(
            "review",
            _("Mark reviewed"),
            ("text",),
            per_site=lambda site, actor, p: site_mark_reviewed(
                site=site, actor=actor, note=str(p.get("text") or "")
            ),
        ),
        SiteAction(
            "assign",
            _("Assign"),
            ("assignee",),
            per_site=lambda site, actor, p: site_assign(
                site=site, assignee=_assignee(p), actor=actor
            ),
        ),
        SiteAction(
            "note",
            _("Add a note"),
            ("text",),
            per_site=lambda site, actor, p: site_note_add(
                site=site, actor=actor, text=str(p.get("text") or "")
            ),
        ),
        SiteAction(
            "incident", _("Add to an incident"), ("incident", "title"), together=_to_incident
        ),
    ]
}


def sites_act(
    *, action: str, sites: Iterable[Site], actor: str, params: Mapping[str, Any] | None = None
) -> ActionResult:
    """Apply the named action to each site; refusals are collected, not raised.

    Raises ``ActionError`` only for an unknown action or parameters that are
    wrong for every site (an unknown assignee, a bad address).
    """
    spec = ACTIONS.get(action)
    if spec is None:
        raise ActionError(
            gettext("unknown action %(action)r (one of %(known)s)")
            % {"action": action, "known": ", ".join(ACTIONS)}
        )
    params = params or {}
    site_list = list(sites)
    result = ActionResult(action=action)
    if spec.together is not None:
        try:
            result.done = spec.together(site_list, actor, params)
        except ActionError as exc:
            result.refused = [(s.pk, str(exc)) for s in site_list]
        return result
    assert spec.per_site is not None
    if action == "assign":
        _assignee(params)  # an unknown user is wrong for every site: say so once
    for site in site_list:
        try:
            spec.per_site(site, actor, params)
        except (ActionError, InvalidTransition) as exc:
            result.refused.append((site.pk, str(exc)))
        except DatabaseError as exc:  # one site's failure must not stop the others
            result.refused.append((site.pk, f"database error: {exc}"))
        else:
            result.done.append(site.pk)
    return result
