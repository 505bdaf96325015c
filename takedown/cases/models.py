"""Sites, incidents and the append-only timeline.

A Site is one normalised URL; its ``state`` follows the loop of the seed
(reported -> located -> notified -> down -> closed, with revival and the side
exits).  The state is only ever changed by ``takedown.cases.services``, which
writes an Event in the same transaction, so the timeline is the history.
"""

from __future__ import annotations

from typing import Any

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

    ``kind`` names what happened (``site.reported``, ``site.state``,
    ``locate.done``, ``notice.sent`` ...); ``data`` carries the details as JSON.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
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
