"""Notices to responsible parties and reporters, the outbox, and inbound mail.

A Notice is one message to one party (an organisation, or a reporter) about
one or more sites.  Messages in a thread (the first notice, its follow-ups,
a re-send to the next contact after a bounce, an escalation) point at the
thread's root through ``parent``.  What is actually handed to the mail server
is an OutboxMessage: its exact bytes are stored when it is composed, so a
retry after an outage sends the same message with the same Message-ID.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from takedown.cases.models import SiteState


class NoticeKind(models.TextChoices):
    INITIAL = "initial", _("notice")
    REVIVAL = "revival", _("notice of a revived site")
    FOLLOWUP = "followup", _("follow-up")
    RESEND = "resend", _("re-sent to the next contact")
    ESCALATION = "escalation", _("escalation")
    ACK = "ack", _("acknowledgement to the reporter")
    CLOSED = "closed", _("closure message to the reporter")
    ANSWER = "answer", _("answer written by a handler")


# Kinds addressed to the responsible organisation (the others go to reporters
# or to escalation contacts).
ORG_KINDS = {NoticeKind.INITIAL, NoticeKind.REVIVAL, NoticeKind.FOLLOWUP, NoticeKind.RESEND}
REPORTER_KINDS = {NoticeKind.ACK, NoticeKind.CLOSED}

# Site states in which a site still wants a notice (first one, or after a revival).
NOTICEABLE = {SiteState.LOCATED, SiteState.REVIVED}
# Site states in which a notified site is still up as far as we know.
STILL_UP = {SiteState.NOTIFIED, SiteState.REVIVED}


class NoticeState(models.TextChoices):
    COLLECTING = "collecting", _("collecting sites")
    QUEUED = "queued", _("queued")
    SENT = "sent", _("sent")
    BOUNCED = "bounced", _("bounced")
    REPLIED = "replied", _("replied")
    CLOSED = "closed", _("closed per admin")
    FAILED = "failed", _("not sent")
    NO_CONTACT = "no_contact", _("nobody to send it to")
    CANCELLED = "cancelled", _("cancelled")


def new_token_tag() -> str:
    return secrets.token_hex(5)


# Which state may follow which; ``services.notice_transition`` checks every
# change against this table and writes the timeline event.
NOTICE_TRANSITIONS: dict[str, set[str]] = {
    # Composed when the batching window closes; cancelled when no site needs
    # it any more; failed when composing itself failed.
    NoticeState.COLLECTING: {NoticeState.QUEUED, NoticeState.CANCELLED, NoticeState.FAILED},
    # In the outbox.  A reply or a bounce can overtake the record that it
    # left (a sender that died after the server's "250").
    NoticeState.QUEUED: {
        NoticeState.SENT,
        NoticeState.BOUNCED,
        NoticeState.REPLIED,
        NoticeState.CLOSED,
        NoticeState.FAILED,
        NoticeState.NO_CONTACT,
        NoticeState.CANCELLED,
    },
    NoticeState.SENT: {NoticeState.BOUNCED, NoticeState.REPLIED, NoticeState.CLOSED},
    NoticeState.BOUNCED: {NoticeState.REPLIED, NoticeState.CLOSED},
    NoticeState.REPLIED: {NoticeState.CLOSED},
    NoticeState.FAILED: {NoticeState.BOUNCED, NoticeState.CLOSED},
    NoticeState.NO_CONTACT: {NoticeState.CLOSED},
    NoticeState.CLOSED: set(),
    NoticeState.CANCELLED: set(),
}


class Rung(models.TextChoices):
    """Who a thread's messages go to, in the order tried (``LADDER``)."""

    ORGANIZATION = "organization", _("the responsible organisation")
    REGISTRAR = "registrar", _("the registrar of the domain")
    CDN = "cdn", _("the CDN in front of the site")
    CSIRT = "csirt", _("the national CSIRT of the hosting country")


# When the organisation cannot be reached (every address bounced, or none is
# known) or does not act, the thread climbs to the next rung that has an
# address (escalation.py).
LADDER = [Rung.ORGANIZATION, Rung.REGISTRAR, Rung.CDN, Rung.CSIRT]


class Stall(models.TextChoices):
    """Why a thread stopped with its sites still up: a handler must decide."""

    NONE = "", _("not stalled")
    NO_CONTACT = "no_contact", _("no contact left")
    STILL_UP = "still_up", _("still up after the last escalation")


class Notice(models.Model):
    kind = models.CharField(max_length=12, choices=NoticeKind.choices, default=NoticeKind.INITIAL)
    state = models.CharField(
        max_length=12, choices=NoticeState.choices, default=NoticeState.COLLECTING, db_index=True
    )
    organization = models.ForeignKey(
        "locate.Organization",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notices",
    )
    reporter = models.ForeignKey(
        "intake.Reporter", null=True, blank=True, on_delete=models.SET_NULL, related_name="notices"
    )
    report = models.ForeignKey(
        "intake.Report", null=True, blank=True, on_delete=models.SET_NULL, related_name="notices"
    )
    # The first message of the thread; follow-ups, re-sends and escalations point at it.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="thread"
    )
    sites = models.ManyToManyField("cases.Site", through="NoticeSite", related_name="notices")
    language = models.CharField(max_length=8, default="en")
    # One notice per decision: a retry, a second worker or a crash-and-restart
    # that tries to make the same decision again hits this unique key.
    idempotency_key = models.CharField(max_length=200, unique=True)
    subject = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    # Every address the message went to (To and Cc); ``cc`` names the copies.
    recipients: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    cc: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    # The party this message is for; on a thread's root, the rung it has reached.
    rung = models.CharField(max_length=12, choices=Rung.choices, default=Rung.ORGANIZATION)
    message_id = models.CharField(max_length=250, blank=True, db_index=True)
    # The random part of the thread's subject token ("TKD#N12-<tag>"): a token
    # cannot be guessed from the notice number. Follow-ups copy their root's;
    # notices from before tags have "" and keep their old token.
    token_tag = models.CharField(max_length=16, blank=True, default=new_token_tag)
    xarf: models.JSONField[Any] = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)

    created = models.DateTimeField(default=timezone.now)
    send_after = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    # Thread bookkeeping, kept on the root notice.
    followups = models.PositiveIntegerField(default=0)
    next_deadline = models.DateTimeField(null=True, blank=True, db_index=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    stalled = models.CharField(max_length=12, choices=Stall.choices, default=Stall.NONE, blank=True)
    stalled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["organization", "state"])]
        constraints = [
            # At most one notice per organisation (and one closure message per
            # reporter) collects sites at a time: that is the batching.
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(state="collecting", organization__isnull=False)
                & ~models.Q(kind__in=["ack", "closed"]),
                name="notice_one_collecting_per_org",
            ),
            models.UniqueConstraint(
                fields=["reporter"],
                condition=models.Q(state="collecting", kind="closed", reporter__isnull=False),
                name="notice_one_collecting_per_reporter",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.token} {self.get_kind_display()}"

    @property
    def token(self) -> str:
        if self.kind == NoticeKind.ACK and self.report_id:
            return f"TKD-R{self.report_id}"
        # Every message of a thread carries the thread's token.
        number = self.parent_id or self.pk
        return f"TKD#N{number}-{self.token_tag}" if self.token_tag else f"TKD#N{number}"

    @property
    def root(self) -> Notice:
        return self.parent if self.parent_id else self  # type: ignore[return-value]

    @property
    def to(self) -> list[str]:
        """The addresses the message was for (its recipients without the copies)."""
        cc = {a.lower() for a in self.cc or []}
        return [a for a in self.recipients or [] if a.lower() not in cc]

    @property
    def to_reporter(self) -> bool:
        return self.kind in REPORTER_KINDS

    @property
    def party(self) -> str:
        if self.organization_id:
            return str(self.organization)
        if self.reporter_id:
            return str(self.reporter)
        return "-"


class NoticeSite(models.Model):
    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="notice_sites")
    site = models.ForeignKey("cases.Site", on_delete=models.CASCADE, related_name="notice_sites")
    # What this site's inclusion decides ("org5:site9:initial0"): a site is put
    # in at most one notice per decision, whatever retries happen.
    decision_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["notice", "site"], name="notice_site_once")]

    def __str__(self) -> str:
        return f"{self.notice_id}:{self.site_id}"


class OutboxState(models.TextChoices):
    PENDING = "pending", _("pending")
    SENDING = "sending", _("sending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")
    UNCERTAIN = "uncertain", _("uncertain (worker died while sending)")
    CANCELLED = "cancelled", _("cancelled before sending")


class OutboxMessage(models.Model):
    """A composed message waiting for (or done with) the mail server."""

    notice = models.OneToOneField(Notice, on_delete=models.CASCADE, related_name="outbox")
    state = models.CharField(
        max_length=10, choices=OutboxState.choices, default=OutboxState.PENDING, db_index=True
    )
    from_addr = models.CharField(max_length=254)
    to: models.JSONField[Any] = models.JSONField(default=list)
    message_id = models.CharField(max_length=250, unique=True)
    raw = models.BinaryField()
    attempts = models.PositiveIntegerField(default=0)
    next_attempt = models.DateTimeField(default=timezone.now, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # With signed envelope senders each recipient gets its own SMTP transaction:
    # those the server accepted, so that a retry sends only to the others.
    accepted: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.message_id} ({self.state})"


class InboundKind(models.TextChoices):
    PENDING = "pending", _("not classified yet")
    REPLY = "reply", _("reply")
    AUTO_REPLY = "auto_reply", _("automatic reply")
    BOUNCE = "bounce", _("bounce")
    ARF = "arf", _("ARF feedback report")
    REPORT = "report", _("incident report")
    UNMATCHED = "unmatched", _("needs a handler")
    ERROR = "error", _("could not be processed")


# Which kind may follow which; ``services.inbound_transition`` checks every
# change against this table and writes the timeline event.
INBOUND_TRANSITIONS: dict[str, set[str]] = {
    InboundKind.PENDING: {
        InboundKind.REPLY,
        InboundKind.AUTO_REPLY,
        InboundKind.BOUNCE,
        InboundKind.ARF,
        InboundKind.REPORT,
        InboundKind.UNMATCHED,
        InboundKind.ERROR,
    },
    # A handler links an unmatched message to its notice or turns it into a report.
    InboundKind.UNMATCHED: {InboundKind.REPLY, InboundKind.REPORT},
    # Processed again once whatever broke it is fixed, or placed by a handler.
    InboundKind.ERROR: {InboundKind.PENDING, InboundKind.REPLY, InboundKind.REPORT},
    # A handler links a reply to another notice, or says a report was a reply.
    InboundKind.REPLY: {InboundKind.REPLY},
    InboundKind.AUTO_REPLY: set(),
    InboundKind.BOUNCE: set(),
    # A complaint from someone else may be an incident report after all.
    InboundKind.ARF: {InboundKind.REPORT},
    InboundKind.REPORT: {InboundKind.REPLY},
}


class InboundMessage(models.Model):
    """One message as it arrived, stored before anything else is tried."""

    received = models.DateTimeField(default=timezone.now, db_index=True)
    source = models.CharField(max_length=8, default="smtp")  # smtp | lmtp | imap | cli
    peer = models.CharField(max_length=100, blank=True)
    mail_from = models.CharField(max_length=500, blank=True)
    rcpt_to: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    raw = models.BinaryField()
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, db_index=True)

    # Filled by classification.
    kind = models.CharField(
        max_length=12, choices=InboundKind.choices, default=InboundKind.PENDING, db_index=True
    )
    reason = models.TextField(blank=True)
    from_header = models.CharField(max_length=500, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    message_id = models.CharField(max_length=998, blank=True)
    notice = models.ForeignKey(
        Notice, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound"
    )
    report = models.ForeignKey(
        "intake.Report", null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound"
    )
    details: models.JSONField[Any] = models.JSONField(default=dict, blank=True)
    processed = models.DateTimeField(null=True, blank=True)
    handled_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-received", "-id"]

    def __str__(self) -> str:
        return f"inbound {self.pk} {self.kind}"

    @staticmethod
    def digest(raw: bytes) -> str:
        return hashlib.sha256(raw).hexdigest()


class BadAddress(models.Model):
    """An address that bounced for an organisation: not used again unless allowed."""

    organization = models.ForeignKey(
        "locate.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="bad_addresses",
    )
    address = models.CharField(max_length=254, db_index=True)
    reason = models.TextField(blank=True)
    inbound = models.ForeignKey(
        InboundMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    allowed_at = models.DateTimeField(null=True, blank=True)
    allowed_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "address"], name="bad_address_once")
        ]

    def __str__(self) -> str:
        return self.address

    @property
    def is_blocked(self) -> bool:
        return self.allowed_at is None

    @classmethod
    def blocked_for(cls, org: Any) -> set[str]:
        """Addresses not to use for ``org``: its own bounces and global ones."""
        qs = cls.objects.filter(allowed_at__isnull=True)
        scope = models.Q(organization__isnull=True)
        if org is not None:
            scope |= models.Q(organization=org)
        return set(qs.filter(scope).values_list("address", flat=True))


class CountryCSIRT(models.Model):
    """The national CSIRT an escalation goes to, per hosting country (editable).

    Shipped rows are disabled: an operator checks each address on the team's
    own sources and enables it (docs/notices.md).
    """

    country = models.CharField(max_length=2, unique=True)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    url = models.URLField(blank=True)
    language = models.CharField(max_length=8, default="en", choices=settings.LANGUAGES)
    enabled = models.BooleanField(default=False)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["country"]
        verbose_name = "country CSIRT"

    def __str__(self) -> str:
        return f"{self.country}: {self.name}"
