"""Sites, incidents and the append-only timeline.

A Site is one normalised URL; its ``state`` follows the loop of the seed
(reported -> located -> notified -> down -> closed, with revival and the side
exits).  The state is only ever changed by ``takedown.cases.services``, which
writes an Event in the same transaction, so the timeline is the history.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SiteState(models.TextChoices):
    REPORTED = "reported", _("reported")
    LOCATED = "located", _("located")
    NOTIFIED = "notified", _("notified")
    DOWN = "down", _("down")
    CLOSED = "closed", _("closed")
    REVIVED = "revived", _("revived")
    ALREADY_DOWN = "already_down", _("already down")
    REJECTED = "rejected", _("rejected")
    UNRESOLVABLE = "unresolvable", _("unresolvable")


# Which state may follow which.  Handlers can reject or reopen from anywhere;
# the automatic steps follow the loop.
TRANSITIONS: dict[str, set[str]] = {
    SiteState.REPORTED: {SiteState.LOCATED, SiteState.UNRESOLVABLE, SiteState.ALREADY_DOWN},
    SiteState.LOCATED: {
        SiteState.NOTIFIED,
        SiteState.ALREADY_DOWN,
        SiteState.DOWN,
        SiteState.UNRESOLVABLE,
        SiteState.LOCATED,
    },
    SiteState.NOTIFIED: {SiteState.DOWN, SiteState.NOTIFIED, SiteState.LOCATED},
    SiteState.DOWN: {SiteState.CLOSED, SiteState.REVIVED},
    SiteState.CLOSED: {SiteState.REVIVED},
    SiteState.REVIVED: {SiteState.NOTIFIED, SiteState.DOWN, SiteState.LOCATED},
    SiteState.ALREADY_DOWN: {SiteState.REVIVED, SiteState.LOCATED},
    SiteState.UNRESOLVABLE: {SiteState.LOCATED, SiteState.ALREADY_DOWN, SiteState.REPORTED},
    SiteState.REJECTED: {SiteState.REPORTED},
}
# States in which a site still needs work (notices, follow-ups, checks).
OPEN_STATES = {
    SiteState.REPORTED,
    SiteState.LOCATED,
    SiteState.NOTIFIED,
    SiteState.REVIVED,
}
DOWN_STATES = {SiteState.DOWN, SiteState.CLOSED, SiteState.ALREADY_DOWN}


class EventKind(models.TextChoices):
    """What a timeline event records: one list, used by every step and the statistics.

    Grouped by the object it concerns.  The value is stored in ``Event.kind``;
    statistics queries compare with these values, never with bare strings.
    """

    # A site's life.
    SITE_REPORTED = "site.reported", _("site reported")
    SITE_REREPORTED = "site.rereported", _("site reported again")
    SITE_STATE = "site.state", _("state changed")
    SITE_REJECTED = "site.rejected", _("rejected as not malicious")
    SITE_REOPENED = "site.reopened", _("reopened")
    SITE_DOWN = "site.down", _("takedown confirmed")
    SITE_ALREADY_DOWN = "site.already_down", _("already down when reported")
    SITE_UNVERIFIED = "site.unverified", _("notified although no check was conclusive")
    SITE_REVIVED = "site.revived", _("site revived")
    SITE_CLOSED = "site.closed", _("site closed")
    SITE_RECURRENCE = "site.recurrence", _("recurrence on a known server")
    # What handlers do to a site (docs/workbench.md).
    SITE_RECHECK = "site.recheck", _("re-check asked")
    SITE_ASSIGNED = "site.assigned", _("assigned")
    SITE_NOTE = "site.note", _("note")
    SITE_REVIEWED = "site.reviewed", _("revival or recurrence reviewed")
    # Reports and incidents.
    REPORT_RECEIVED = "report.received", _("report received")
    REPORT_LINKED = "report.linked", _("report linked to the site")
    INCIDENT_CREATED = "incident.created", _("incident created")
    INCIDENT_SITE_ADDED = "incident.site_added", _("added to an incident")
    INCIDENT_SITES_ADDED = "incident.sites_added", _("sites added to the incident")
    INCIDENT_MERGED = "incident.merged", _("incident merged into another")
    INCIDENT_MERGED_IN = "incident.merged_in", _("another incident merged in")
    # Locating who is responsible.
    LOCATE_DONE = "locate.done", _("responsible organisation found")
    LOCATE_FAILED = "locate.failed", _("locating failed")
    ORGANIZATION_EDITED = "organization.edited", _("organisation edited")
    ORGANIZATION_RESET = "organization.reset", _("organisation reset to registry data")
    # Notices to the responsible organisations.
    NOTICE_QUEUED = "notice.queued", _("message composed")
    NOTICE_CANCELLED = "notice.cancelled", _("message cancelled")
    NOTICE_SENT = "notice.sent", _("notice sent")
    NOTICE_FAILED = "notice.failed", _("notice could not be sent")
    NOTICE_NO_CONTACT = "notice.no_contact", _("no contact address left")
    NOTICE_ESCALATED = "notice.escalated", _("escalated")
    NOTICE_ESCALATION_FAILED = "notice.escalation_failed", _("escalation could not be sent")
    NOTICE_STILL_UP = "notice.still_up", _("still up after the last escalation")
    NOTICE_REPLIED = "notice.replied", _("reply received")
    NOTICE_AUTO_REPLY = "notice.auto_reply", _("automatic reply received")
    NOTICE_BOUNCED = "notice.bounced", _("notice bounced")
    NOTICE_COMPLAINT = "notice.complaint", _("complaint about a notice")
    NOTICE_FOLLOWUP = "notice.followup", _("follow-up sent")
    NOTICE_CLOSED_PER_ADMIN = "notice.closed_per_admin", _("closed according to the administrator")
    NOTICE_ADDRESS_ALLOWED = "notice.address_allowed", _("bounced address allowed again")
    NOTICE_REQUESTED = "notice.requested", _("notice asked for by a handler")
    NOTICE_ANSWERED = "notice.answered", _("answer sent by a handler")
    NOTICE_ANSWER_SENT = "notice.answer_sent", _("a handler's answer left")
    # Inbound mail a handler dealt with.
    INBOUND_LINKED = "inbound.linked", _("mail linked to a notice")
    INBOUND_HANDLED = "inbound.handled", _("mail marked handled")
    INBOUND_TO_REPORT = "inbound.to_report", _("mail turned into a report")
    # Messages to reporters.
    REPORTER_ACK_SENT = "reporter.ack_sent", _("acknowledgement sent to the reporter")
    REPORTER_CLOSED_SENT = "reporter.closed_sent", _("reporter told of the closure")
    REPORTER_REPLIED = "reporter.replied", _("reporter replied")
    REPORTER_AUTO_REPLY = "reporter.auto_reply", _("automatic reply from the reporter")
    REPORTER_BOUNCED = "reporter.bounced", _("message to the reporter bounced")
    REPORTER_CLASSIFIED = "reporter.classified", _("reporter classified")
    REPORTER_CLOSED_WITHDRAWN = (
        "reporter.closed_withdrawn",
        _("closure message withdrawn: the site is up again"),
    )
    # Inbound mail, as the automation sorted it.
    INBOUND_ROUTED = "inbound.routed", _("mail sorted")
    INBOUND_FAILED = "inbound.failed", _("mail that could not be processed")
    # The national CSIRTs escalations go to (takedown/notices).
    CSIRT_EDITED = "csirt.edited", _("national CSIRT contact edited")
    # Accounts and API tokens (takedown/web).
    USER_CREATED = "user.created", _("account created")
    USER_ROLE = "user.role", _("role changed")
    USER_ACTIVATED = "user.activated", _("account activated")
    USER_DEACTIVATED = "user.deactivated", _("account deactivated")
    USER_PASSWORD = "user.password", _("password changed")
    TOKEN_CREATED = "token.created", _("API token created")
    TOKEN_REVOKED = "token.revoked", _("API token revoked")
    # Directory rows edited in the Django admin (takedown/access/admin_base.py).
    ADMIN_ADDED = "admin.added", _("added in the admin")
    ADMIN_CHANGED = "admin.changed", _("changed in the admin")
    ADMIN_DELETED = "admin.deleted", _("deleted in the admin")


class Step(models.TextChoices):
    """The automatic steps of the loop that a worker runs (``takedown.loop`` runs each)."""

    LOCATE = "locate", _("locate the responsible party")
    FIRST_CHECK = "first_check", _("schedule the first check")
    NOTICE_PLAN = "notice_plan", _("plan the notice")
    CLOSE = "close", _("tell the reporters and close")
    ACK = "ack", _("acknowledge the report")
    # Run by the evidence worker (a thread of ``takedown monitor``, or
    # ``takedown evidence``), never by ``takedown worker``: a slow page in
    # Chromium must not hold back a notice.
    SCREENSHOT = "screenshot", _("take the evidence screenshot")


# The step a site's new state calls for: ``site_transition`` writes its Work
# row in the transaction that changes the state (``cases.work``).  The other
# hand-offs are explicit: the monitor schedules NOTICE_PLAN when the first
# check finds a located site up (no state change) and SCREENSHOT with the
# evidence that check stores, intake schedules ACK with each report, and the
# locate step schedules its own retries.
STEP_ON_ENTRY: dict[str, Step] = {
    SiteState.REPORTED: Step.LOCATE,
    SiteState.LOCATED: Step.FIRST_CHECK,
    SiteState.REVIVED: Step.NOTICE_PLAN,
    SiteState.DOWN: Step.CLOSE,
}


class SiteKind(models.TextChoices):
    PHISHING = "phishing", _("phishing")
    MALWARE = "malware", _("malware")


class Incident(models.Model):
    """Sites handled together: one bulk report, one campaign."""

    title = models.CharField(max_length=200)
    created = models.DateTimeField(default=timezone.now)
    sites: models.ManyToManyField[Site, Any] = models.ManyToManyField(
        "Site", related_name="incidents", blank=True
    )
    # Set when a handler merged this incident into another: its sites moved
    # there, and this one is kept (with its timeline) so links to it still work.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged"
    )

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"


class Site(models.Model):
    url = models.CharField(max_length=2048, unique=True)
    host = models.CharField(max_length=255, db_index=True)
    registered_domain = models.CharField(max_length=255, db_index=True)
    kind = models.CharField(max_length=16, choices=SiteKind.choices, default=SiteKind.PHISHING)
    brand = models.CharField(max_length=200, blank=True)
    state = models.CharField(
        max_length=16, choices=SiteState.choices, default=SiteState.REPORTED, db_index=True
    )
    state_changed = models.DateTimeField(default=timezone.now)
    first_reported = models.DateTimeField(default=timezone.now, db_index=True)
    created = models.DateTimeField(default=timezone.now)
    # True for sites imported as history (e.g. a published list of past
    # takedowns): they count in the statistics but are not located, notified
    # or checked.
    historical = models.BooleanField(default=False)

    # What the locate step found most recently; the full record is in locate's tables.
    ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    organization = models.ForeignKey(
        "locate.Organization",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sites",
    )
    # Set when this site sits on an IP, prefix or server that hosted an earlier site.
    recurrence_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="recurrences"
    )

    # The handler who took the site on (none: anyone may act).
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_sites",
    )

    # Monitoring schedule (owned by the monitor step).
    next_check = models.DateTimeField(null=True, blank=True, db_index=True)
    watch_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "next_check"])]

    def __str__(self) -> str:
        return self.defanged_url

    @property
    def defanged_url(self) -> str:
        from takedown.lib.defang import defang

        return defang(self.url)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_down(self) -> bool:
        return self.state in DOWN_STATES


class Event(models.Model):
    """One entry of the append-only timeline.

    ``kind`` names what happened (an ``EventKind``: ``site.reported``,
    ``locate.done``, ``notice.sent`` ...); ``data`` carries the details as JSON.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    # An EventKind value.  Not declared as the field's choices on purpose: a
    # new kind would then need a migration that changes nothing in the table.
    kind = models.CharField(max_length=64)
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    report = models.ForeignKey(
        "intake.Report", null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    organization = models.ForeignKey(
        "locate.Organization",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
    )
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16, blank=True)
    actor = models.CharField(max_length=150, default="system")
    message = models.TextField(blank=True)
    data: models.JSONField[Any] = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["site", "at"]),
            models.Index(fields=["kind", "at"]),
            models.Index(fields=["to_state", "at"]),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}"

    @property
    def kind_label(self) -> str:
        """What happened, in the user's language (the code itself if it is unknown)."""
        try:
            return str(EventKind(self.kind).label)
        except ValueError:
            return self.kind


class Work(models.Model):
    """One step of the loop due for one site (or, for ``ack``, one report).

    Written in the transaction that makes the step necessary and deleted when
    the step has run, so the table holds exactly the work still to do: a crash
    or a restart only delays it.  ``due`` empty means the step failed
    ``WORK_MAX_ATTEMPTS`` times and waits for a handler (``last_error`` says
    why).  ``claim`` is the token of the worker running it, whose lease ends
    at ``due``; ``again`` is when to run it once more, if it was scheduled
    while it ran.  ``takedown/cases/work.py`` is the only code that writes it.
    """

    step = models.CharField(max_length=16, choices=Step.choices)
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.CASCADE, related_name="work"
    )
    report = models.ForeignKey(
        "intake.Report", null=True, blank=True, on_delete=models.CASCADE, related_name="work"
    )
    due = models.DateTimeField(null=True, blank=True)
    again = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["step", "due"])]
        constraints = [
            models.UniqueConstraint(fields=["step", "site"], name="work_once_per_site"),
            models.UniqueConstraint(fields=["step", "report"], name="work_once_per_report"),
        ]

    def __str__(self) -> str:
        target = f"site {self.site_id}" if self.site_id else f"report {self.report_id}"
        return f"{self.step} for {target}"

    @property
    def target_id(self) -> int:
        pk = self.site_id if self.site_id is not None else self.report_id
        assert pk is not None
        return pk
