"""What needs a human: the reasons, and one item of the handlers' queue.

The automation never stops silently: whatever it cannot finish is visible as
a handler item with a reason code and the site, notice, mail, report or
reporter it concerns.  Items are not stored: each step's ``selectors.py``
derives them from the state it owns (a failed notice, an unmatched mail, a
site inconclusive for too long ...), so an item disappears by itself when the
state that caused it changes, whoever changed it.  ``takedown.handler_queue``
gathers them for the dashboard, the API and ``takedown queue``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class Reason(models.TextChoices):
    """Why an item needs a handler; the value is the code scripts and the API use."""

    NO_CONTACT = "no_contact", _("no contact left")
    UNRESOLVABLE = "unresolvable", _("unresolvable after the last retry")
    INCONCLUSIVE = "inconclusive", _("checks inconclusive for too long")
    UNMATCHED_MAIL = "unmatched_mail", _("mail not matched to a notice")
    MAIL_ERROR = "mail_error", _("mail that could not be processed")
    UNKNOWN_REPORTER = "unknown_reporter", _("reporter not yet classified")
    NOTICE_FAILED = "notice_failed", _("notice failed after its retries")
    NOTICE_UNCERTAIN = "notice_uncertain", _("notice may not have been sent")
    STILL_UP = "still_up", _("still up after the last escalation")
    STEP_FAILED = "step_failed", _("automatic step failed after its retries")
    REVIVAL = "revival", _("revival to review")
    RECURRENCE = "recurrence", _("recurrence to review")


@dataclass(frozen=True)
class HandlerItem:
    """One thing a handler should look at, and what it concerns.

    ``since`` is when the condition began (the queue is oldest first);
    ``detail`` is a short, plain-text explanation (never HTML: it may quote
    hostile input, and templates escape it).
    """

    reason: str
    since: datetime
    detail: str = ""
    site_id: int | None = None
    notice_id: int | None = None
    inbound_id: int | None = None
    report_id: int | None = None
    reporter_id: int | None = None

    @property
    def reason_label(self) -> str:
        return str(Reason(self.reason).label)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["since"] = self.since.isoformat()
        data["reason_label"] = self.reason_label
        return data
