"""What the monitor saw: Checks (runs of equal observations), Evidence of the first
sighting, and each site's Watch (the counters the scheduler decides with).

docs/monitor.md describes the outcomes, the schedule and how checks are stored.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from takedown.cases.models import Site
from takedown.monitor import outcomes


class Outcome(models.TextChoices):
    """What one check saw; ``Verdict`` says what that proves (docs/monitor.md)."""

    UP = "up", _("up")
    HTTP_ERROR = "http_error", _("HTTP error")
    NXDOMAIN = "nxdomain", _("no such domain")
    NO_ADDRESS = "no_address", _("no address")
    DNS_ERROR = "dns_error", _("DNS failure")
    REFUSED = "refused", _("connection refused")
    UNREACHABLE = "unreachable", _("network unreachable")
    TIMEOUT = "timeout", _("timed out")
    TLS_ERROR = "tls_error", _("TLS error")
    CONTENT_GONE = "content_gone", _("content gone")
    REDIRECT_LOOP = "redirect_loop", _("redirect loop")
    BLOCKED = "blocked", _("blocked (non-public address)")
    ERROR = "error", _("protocol error")
    INTERNAL = "internal", _("check failed on our side")


class Verdict(models.TextChoices):
    """What a check proves: down only on positive evidence, anything unclear is inconclusive."""

    UP = outcomes.UP, pgettext_lazy("verdict", "up")
    DOWN = outcomes.DOWN, pgettext_lazy("verdict", "down")
    INCONCLUSIVE = outcomes.INCONCLUSIVE, pgettext_lazy("verdict", "inconclusive")


# The fields of a check that make it "the same outcome" as the one before: a
# check equal to the site's current run on all of them is counted in that run
# (``last_at``, ``count``); any difference starts a new run.  A change of
# verdict always does, so every change of verdict is kept exactly, with the
# evidence of the check that made it.  Size, latency, body hash, detail and
# truncation are the run's first check's (a page with a fresh CSRF token in
# every answer would otherwise be a run per check).
RUN_KEY = (
    "outcome",
    "verdict",
    "status",
    "ip",
    "agent",
    "final_url",
    "other_agent",
    "other_outcome",
    "cert_error",
)


class Check(models.Model):
    """A run of equal checks of one site (``RUN_KEY``): its first check as observed,
    then until when it lasted and how many checks it holds.

    One row per change, not per check: a site checked every 15 minutes for a
    month without change is one row with ``count`` 2,880 (docs/monitor.md,
    "How checks are stored").
    """

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="checks")
    # When the run began: its first check.
    at = models.DateTimeField(default=timezone.now)
    # Its last check so far, and how many checks it holds.
    last_at = models.DateTimeField(default=timezone.now)
    count = models.PositiveIntegerField(default=1)
    # The RUN_KEY fields that differ from the site's previous run, space-separated
    # ("" for a site's first run).
    changed = models.CharField(max_length=200, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    final_url = models.CharField(max_length=2048, blank=True)
    body_hash = models.CharField(max_length=64, blank=True)
    size = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    # Which browser identity got this answer ("mobile" after a cloaked desktop try).
    agent = models.CharField(max_length=8, default="desktop")
    truncated = models.BooleanField(default=False)
    detail = models.CharField(max_length=300, blank=True)
    # The other browser identity's answer, when both were asked (``checker.observe``):
    # its ``agent``, outcome and detail.  Columns, not words appended to
    # ``detail``: a server's reason phrase is in both, and read back from one
    # string it could pass for the other browser's answer.
    other_agent = models.CharField(max_length=8, blank=True)
    other_outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    other_detail = models.CharField(max_length=300, blank=True)
    # Judged when the check was recorded (``outcomes.verdict``), kept as judged.
    verdict = models.CharField(max_length=12, choices=Verdict.choices, default=Verdict.INCONCLUSIVE)
    # Why the certificate was refused, when it was; the page was then fetched
    # without verification and judged by its content.
    cert_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["site", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.outcome} x{self.count}"

    @property
    def is_down(self) -> bool:
        return self.verdict == Verdict.DOWN

    @property
    def changed_fields(self) -> list[str]:
        return self.changed.split()

    def run_key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in RUN_KEY)


class ScreenshotState(models.TextChoices):
    PENDING = "pending", pgettext_lazy("screenshot", "pending")
    DONE = "done", pgettext_lazy("screenshot", "done")
    FAILED = "failed", pgettext_lazy("screenshot", "failed")
    SKIPPED = "skipped", pgettext_lazy("screenshot", "skipped")


class Evidence(models.Model):
    """The first successful sighting of a site: enough to show what was reported.

    ``body`` is the page (or the start of a download) as received, capped; it is
    shown as escaped text or downloaded, never rendered.  The fingerprint fields
    (title, form fields, brand words) are what later checks compare with.
    """

    class Kind(models.TextChoices):
        PAGE = "page", _("page")
        DOWNLOAD = "download", _("download")

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="evidence")
    check_ref = models.ForeignKey(
        Check, null=True, blank=True, on_delete=models.SET_NULL, related_name="evidence"
    )
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PAGE)
    url = models.CharField(max_length=2048)
    final_url = models.CharField(max_length=2048, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    agent = models.CharField(max_length=8, default="desktop")
    headers: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    content_type = models.CharField(max_length=200, blank=True)
    body = models.BinaryField(blank=True, default=b"")
    body_truncated = models.BooleanField(default=False)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    is_html = models.BooleanField(default=True)
    title = models.CharField(max_length=300, blank=True)
    form_fields: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    has_password = models.BooleanField(default=False)
    brand_hits: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    screenshot = models.FileField(upload_to="screenshots/%Y/%m/", blank=True)
    screenshot_state = models.CharField(
        max_length=8, choices=ScreenshotState.choices, default=ScreenshotState.SKIPPED
    )
    screenshot_error = models.CharField(max_length=300, blank=True)
    # The malware sample itself, zipped with the password "infected", when kept.
    sample = models.FileField(upload_to="samples/%Y/%m/", blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "evidence"

    def __str__(self) -> str:
        return f"evidence #{self.pk} of site {self.site_id}"

    @property
    def body_text(self) -> str:
        from takedown.monitor.content import decode_body

        return decode_body(bytes(self.body), self.content_type)


class Watch(models.Model):
    """The monitor's running counters for one site (one row per checked site)."""

    site = models.OneToOneField(
        Site, primary_key=True, on_delete=models.CASCADE, related_name="watch"
    )
    checks = models.PositiveIntegerField(default=0)
    down_streak = models.PositiveIntegerField(default=0)
    # False until the first up or down check since the site was (re)located:
    # that check decides between "seen up" (notice) and "already down".  A
    # run of INCONCLUSIVE_NOTIFY_AFTER inconclusive checks decides "notify
    # anyway" (docs/monitor.md).
    decided = models.BooleanField(default=False)
    last_outcome = models.CharField(max_length=16, blank=True)
    last_checked = models.DateTimeField(null=True, blank=True)
    last_up = models.DateTimeField(null=True, blank=True)
    # The current run of inconclusive checks: how many, and when it began
    # (NULL after an up or down check).  It sets the retry backoff, lets a
    # first check that stays unclear notify anyway, and makes the site a
    # handler item after INCONCLUSIVE_AFTER (monitor.selectors).
    inconclusive_streak = models.PositiveIntegerField(default=0)
    inconclusive_since = models.DateTimeField(null=True, blank=True, db_index=True)
    # The site's current run of equal checks: the next check equal to it is
    # counted there (an UPDATE), a different one starts a new run.
    run = models.ForeignKey(
        Check, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"watch of site {self.site_id}"
