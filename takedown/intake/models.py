"""Reporters and the reports they send.

A Report keeps its raw content unchanged (bytes for mail, the submitted text
otherwise), even when nothing could be extracted from it: a handler can always
see exactly what arrived.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class ReporterKind(models.TextChoices):
    CSIRT = "csirt", _("CSIRT")
    SECURITY_VENDOR = "security_vendor", _("security service vendor")
    FINANCIAL = "financial", _("bank or credit-card company")
    ECOMMERCE = "ecommerce", _("e-commerce")
    OTHER = "other", _("other")


class Reporter(models.Model):
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True, db_index=True)
    kind = models.CharField(max_length=20, choices=ReporterKind.choices, default=ReporterKind.OTHER)
    country = models.CharField(max_length=2, blank=True, help_text=_("ISO 3166 code"))
    language = models.CharField(max_length=8, default="en", choices=settings.LANGUAGES)
    # False for a sender we know nothing about (mail from an unknown address):
    # a handler classifies it from the queue; until then its type is a guess.
    classified = models.BooleanField(default=True)
    # Whether this reporter wants the acknowledgement and the closure message.
    notify_ack = models.BooleanField(default=True)
    notify_closed = models.BooleanField(default=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name or self.email

    @property
    def domestic(self) -> bool | None:
        if not self.country:
            return None
        return self.country.upper() == settings.HOME_COUNTRY


class Channel(models.TextChoices):
    EMAIL = "email", _("e-mail")
    FORM = "form", _("web form")
    API = "api", _("API")
    CLI = "cli", _("command line")
    IMPORT = "import", _("file import")
    FEED = "feed", _("feed")


class Purpose(models.TextChoices):
    INFORMATION = "information", _("information only")
    QUESTION = "question", _("question about handling")
    REQUEST = "request", _("request to contact the sites")


class TLP(models.TextChoices):
    CLEAR = "clear", "TLP:CLEAR"
    GREEN = "green", "TLP:GREEN"
    AMBER = "amber", "TLP:AMBER"
    AMBER_STRICT = "amber+strict", "TLP:AMBER+STRICT"
    RED = "red", "TLP:RED"


class ReportStatus(models.TextChoices):
    ACCEPTED = "accepted", _("accepted")
    EMPTY = "empty", _("no URL found")
    REJECTED = "rejected", _("rejected")


class Report(models.Model):
    reporter = models.ForeignKey(
        Reporter, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    purpose = models.CharField(max_length=12, choices=Purpose.choices, default=Purpose.REQUEST)
    tlp = models.CharField(max_length=12, choices=TLP.choices, default=TLP.AMBER)
    received = models.DateTimeField(default=timezone.now, db_index=True)
    subject = models.CharField(max_length=500, blank=True)
    # Exactly what arrived: the text for CLI/API/form submissions and CSV rows,
    # the whole RFC 5322 message for mail.
    raw_text = models.TextField(blank=True)
    raw_bytes = models.BinaryField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=ReportStatus.choices, default=ReportStatus.ACCEPTED
    )
    # Why the report or parts of it could not be used (bad URLs, oversize ...).
    errors: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    # Where each URL of a mail was found, first place first (``mail.Source.as_dict``):
    # {"https://a.example/": [{"kind": "qr", "name": "invoice.pdf", "page": 1}]}.
    url_sources: models.JSONField[Any] = models.JSONField(default=dict, blank=True)
    # Makes re-importing the same row or re-delivering the same mail a no-op.
    dedupe_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    message_id = models.CharField(max_length=998, blank=True, db_index=True)
    incident = models.ForeignKey(
        "cases.Incident", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    sites = models.ManyToManyField("cases.Site", related_name="reports", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-received"]

    def __str__(self) -> str:
        return f"R{self.pk} {self.get_channel_display()} {self.received:%Y-%m-%d %H:%M}"

    @property
    def token(self) -> str:
        return f"TKD-R{self.pk}"

    def sites_with_sources(self) -> list[tuple[Any, list[str]]]:
        """Each site of the report with where in the report its URL was found, as text."""
        sources = self.url_sources if isinstance(self.url_sources, dict) else {}
        return [
            (site, [source_label(s) for s in sources.get(site.url, []) if isinstance(s, dict)])
            for site in self.sites.all()
        ]


def source_label(source: dict[str, Any]) -> str:
    """``{"kind": "qr", "name": "a.pdf", "page": 2}`` -> "QR code in a.pdf, page 2"."""
    kind = source.get("kind")
    page = source.get("page")
    values = {"name": str(source.get("name") or "?")[:200], "page": page}
    if kind == "subject":
        where = gettext("subject")
    elif kind == "body":
        where = gettext("message body")
    elif kind == "attachment":
        where = gettext("attachment %(name)s") % values
    elif kind == "pdf_text" and page:
        where = gettext("text of %(name)s, page %(page)s") % values
    elif kind == "pdf_link" and page:
        where = gettext("link in %(name)s, page %(page)s") % values
    elif kind == "pdf_link":
        where = gettext("link in %(name)s") % values
    elif kind == "qr" and page:
        where = gettext("QR code in %(name)s, page %(page)s") % values
    elif kind == "qr":
        where = gettext("QR code in %(name)s") % values
    else:
        where = gettext("text")
    if source.get("depth"):
        where = gettext("%(where)s, in an attached message") % {"where": where}
    return where
