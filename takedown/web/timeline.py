"""The timeline in words: each event as a sentence in the reader's language.

Events store what happened as a kind and data (``site.rejected`` with a
reason, ``site.assigned`` with ``{"to": ...}``); this module says it ("alice
rejected it as a false positive: ...") for the dashboard's feed, a site's
timeline, and the organisation, incident and reporter pages.  The sentence is
about the event's site, which the page shows beside it.  A kind without a
sentence of its own still reads as words (its label), never as a code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from takedown.cases.models import Event, EventKind, SiteState
from takedown.web.texts import ours, outcome_label

if TYPE_CHECKING:
    from takedown.monitor.models import Check


def event_label(kind: str) -> str:
    """What the kind is called (``EventKind``'s label), in the reader's language."""
    try:
        return str(EventKind(kind).label)
    except ValueError:  # a kind from a newer or older version of the code
        return kind.replace(".", ": ").replace("_", " ")


def actor_name(actor: str) -> str:
    """``system`` is the automation; people and API clients by their user name."""
    if actor in {"", "system"}:
        return _("Takedown")
    return actor


def _state(value: str) -> str:
    try:
        return str(SiteState(value).label)
    except ValueError:
        return value


def _data(event: Event) -> dict[str, Any]:
    return event.data if isinstance(event.data, dict) else {}


def _role(value: Any) -> str:
    from takedown.access.roles import Role

    try:
        return str(Role(value).label)
    except ValueError:
        return str(value)


def _account(event: Event, v: dict[str, Any], d: dict[str, Any]) -> str | None:
    """Accounts and API tokens (the audit trail): who did what to whom."""
    v = {**v, "user": d.get("user", "?"), "token": d.get("token", "?")}
    kind = event.kind
    if kind == "user.created":
        return _("%(actor)s created the account %(user)s (%(role)s).") % {
            **v,
            "role": _role(d.get("role", "")),
        }
    if kind == "user.role":
        return _("%(actor)s made %(user)s a %(role)s.") % {**v, "role": _role(d.get("to", ""))}
    if kind == "user.activated":
        return _("%(actor)s let %(user)s log in again.") % v
    if kind == "user.deactivated":
        return _("%(actor)s closed the account %(user)s.") % v
    if kind == "user.password":
        return _("%(actor)s changed the password of %(user)s.") % v
    if kind == "token.created":
        return _("%(actor)s created the API token %(token)s for %(user)s.") % v
    if kind == "token.revoked":
        return _("%(actor)s revoked the API token %(token)s of %(user)s.") % v
    return None


def event_sentence(event: Event) -> str:
    """What happened, as a sentence (plain text: templates escape it)."""
    d = _data(event)
    v: dict[str, Any] = {
        "actor": actor_name(event.actor),
        "message": event.message,
        "org": str(event.organization) if event.organization_id else _("the administrator"),
        "state": _state(event.to_state),
        "report": f"TKD-R{d.get('report') or event.report_id or ''}",
        # The thread's token as its mail carries it (with its random tag);
        # events from before tags only have the number.
        "token": d.get("token") or f"TKD#N{d.get('thread') or d.get('notice') or ''}",
    }
    kind = event.kind
    if kind == "site.assigned":
        if d.get("to"):
            return _("%(actor)s assigned it to %(to)s.") % {**v, "to": d["to"]}
        return _("%(actor)s released it.") % v
    if kind == "locate.done" and not event.organization_id:
        return _("Located; no responsible organisation is known.") % v
    if kind == "site.recurrence":
        by = {"server": _("server"), "ip": _("IP address"), "prefix": _("network")}.get(
            str(d.get("by", "")), str(d.get("by", ""))
        )
        if d.get("site") not in (None, event.site_id):
            # The earlier site's copy of the event: the new site is the news.
            return _("Site %(site)s appeared on the same %(by)s.") % {"site": d["site"], "by": by}
        return _("A recurrence of site %(of)s (same %(by)s).") % {"of": d.get("of", "?"), "by": by}
    if kind == "site.reviewed":
        what = _("revival") if d.get("kind") == "site.revived" else _("recurrence")
        text = _("%(actor)s reviewed the %(what)s.") % {**v, "what": what}
        return f"{text} {event.message}" if event.message else text
    if kind == "notice.followup":
        return _("Follow-up %(n)s of %(token)s sent to %(org)s.") % {
            **v,
            "n": d.get("followup", ""),
        }
    if kind == "report.received":
        return _("Report %(report)s received: %(n)s URL(s).") % {**v, "n": d.get("urls", 0)}
    if kind in {"incident.sites_added"}:
        return _("%(actor)s added %(n)s site(s).") % {**v, "n": len(d.get("sites", []))}
    if kind == "incident.merged":
        return _("%(actor)s merged this incident into #%(into)s.") % {**v, "into": d.get("into")}
    if kind == "incident.merged_in":
        return _("%(actor)s merged incident #%(src)s into this one.") % {**v, "src": d.get("from")}
    if kind == "locate.failed" and event.message:
        # The locate step's reason, in English as stored: said in the reader's language.
        return _("Could not be located: %(message)s") % {**v, "message": ours(event.message)}
    if kind.startswith(("user.", "token.")):
        account = _account(event, v, d)
        if account is not None:
            return account
    if kind == "notice.address_allowed":
        return _("%(actor)s allowed %(address)s again.") % {**v, "address": d.get("address", "")}
    template = _SENTENCES.get(kind)
    if template is None:
        text = event_label(kind)
        text = text[:1].upper() + text[1:]
        # What the automation wrote is ours to translate; a person's words are not.
        message = ours(event.message) if event.actor in {"", "system"} else event.message
        # The punctuation is the language's too (a Japanese sentence ends in "。").
        if message:
            return _("%(label)s: %(message)s") % {"label": text, "message": message}
        return _("%(label)s.") % {"label": text}
    return str(template) % v


_SENTENCES: dict[str, Any] = {
    "site.reported": gettext_lazy("Reported."),
    "report.linked": gettext_lazy("Named in report %(report)s."),
    "site.rereported": gettext_lazy("Reported again in %(report)s."),
    "locate.done": gettext_lazy("Located: %(org)s is responsible."),
    "site.state": gettext_lazy("Now %(state)s."),
    "site.already_down": gettext_lazy("Already down when first checked: watched, not notified."),
    "site.down": gettext_lazy("Confirmed down."),
    "site.closed": gettext_lazy("Closed; the reporter is told."),
    "site.revived": gettext_lazy("Up again: revived."),
    "site.rejected": gettext_lazy("%(actor)s rejected it as a false positive: %(message)s"),
    "site.reopened": gettext_lazy("%(actor)s reopened it."),
    "site.recheck": gettext_lazy("%(actor)s asked for a new check."),
    "site.note": gettext_lazy("%(actor)s noted: %(message)s"),
    "notice.requested": gettext_lazy("%(actor)s asked for a notice now."),
    "notice.sent": gettext_lazy("Notice %(token)s sent to %(org)s."),
    "notice.replied": gettext_lazy("%(org)s replied."),
    "notice.auto_reply": gettext_lazy("%(org)s answered automatically."),
    "notice.bounced": gettext_lazy("The notice bounced."),
    "notice.no_contact": gettext_lazy("No contact left: a handler must decide."),
    "notice.failed": gettext_lazy("The notice could not be sent."),
    "notice.escalated": gettext_lazy("Escalated beyond %(org)s."),
    "notice.escalation_failed": gettext_lazy("No escalation contact is known."),
    "notice.complaint": gettext_lazy("A complaint (ARF report) came back about the notice."),
    "notice.closed_per_admin": gettext_lazy(
        "%(actor)s recorded that the administrator says it is closed."
    ),
    "notice.answered": gettext_lazy("%(actor)s answered in the notice's thread."),
    "reporter.ack_sent": gettext_lazy("The reporter was thanked for report %(report)s."),
    "reporter.closed_sent": gettext_lazy("The reporter was told it is closed."),
    "reporter.replied": gettext_lazy("The reporter replied."),
    "reporter.auto_reply": gettext_lazy("The reporter answered automatically."),
    "reporter.bounced": gettext_lazy("A message to the reporter bounced."),
    "reporter.classified": gettext_lazy("%(actor)s classified reporter %(message)s."),
    "incident.created": gettext_lazy("%(actor)s opened incident %(message)s."),
    "incident.site_added": gettext_lazy("%(actor)s added it to incident %(message)s."),
    "inbound.linked": gettext_lazy("%(actor)s linked a message to the notice."),
    "inbound.handled": gettext_lazy("%(actor)s marked a message handled."),
    "inbound.to_report": gettext_lazy("%(actor)s turned a message into a report."),
    "organization.edited": gettext_lazy("%(actor)s corrected the organisation's data."),
    "organization.reset": gettext_lazy("%(actor)s restored the registry's values."),
}


# The monitor's one-line reasons for a check (``Check.detail``), in the reader's
# language.  Exception texts and HTTP status lines are shown as they came.
CHECK_DETAILS: dict[str, Any] = {
    "same content": gettext_lazy("same content"),
    "empty body": gettext_lazy("empty body"),
    "download replaced by a page": gettext_lazy("download replaced by a page"),
    "download": gettext_lazy("download"),
    "not HTML": gettext_lazy("not HTML"),
    "page served": gettext_lazy("page served"),
    "same title": gettext_lazy("same title"),
    "same form fields": gettext_lazy("same form fields"),
    "brand and login form": gettext_lazy("brand and login form"),
    "brand and password field": gettext_lazy("brand and password field"),
    "different page": gettext_lazy("different page"),
}


# Which browser identity a check used (``Check.agent``).
CHECK_AGENTS: dict[str, Any] = {
    "desktop": gettext_lazy("desktop"),
    "mobile": gettext_lazy("phone"),
}


def check_agent(agent: str) -> str:
    label = CHECK_AGENTS.get(agent)
    return str(label) if label is not None else agent


def check_text(check: Check) -> str:
    """A check's detail in the reader's language, with the other browser's answer
    when both were asked (kept in their own columns, never parsed out of text)."""
    kept = check_detail(check.detail or "")
    if not check.other_agent:
        return kept
    template = (
        _("%(kept)s; the phone browser got %(outcome)s: %(other)s")
        if check.other_agent == "mobile"
        else _("%(kept)s; the desktop browser got %(outcome)s: %(other)s")
    )
    return template % {
        "kept": kept,
        "outcome": outcome_label(check.other_outcome),
        "other": check_detail(check.other_detail),
    }


def check_detail(detail: str) -> str:
    """One browser's detail (``checker.classify``) in the reader's language;
    anything else, a server's words included, as it was stored."""
    head, sep, rest = detail.partition(" (body capped at ")
    known = CHECK_DETAILS.get(head)
    if known is not None:
        text = str(known)
    elif head.startswith("gone marker: "):
        marker = head.removeprefix("gone marker: ")
        text = _("page says it is gone: %(marker)s") % {"marker": marker}
    else:
        return detail
    if sep:
        return text + " " + _("(body capped at %(size)s)") % {"size": rest.rstrip(")")}
    return text
