"""The one way reports come in, whatever the channel.

``report_receive`` is called by the CLI (``takedown report``), the JSON API,
the web form, the inbound mail listener and the CSV importer's per-row path.
It keeps the raw input before anything can fail, extracts and normalises the
URLs, attaches them to existing sites or creates new ones, groups a
multi-site report into an incident, and hands new sites to the loop.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from takedown.cases.models import Event, EventKind, Site, Step
from takedown.cases.services import event_record, incident_create, sites_create_bulk
from takedown.cases.work import work_schedule
from takedown.intake.extract import ExtractedURL, InvalidURL, extract_urls, normalise_url
from takedown.intake.models import Channel, Purpose, Report, Reporter, ReporterKind, ReportStatus

# Kept raw input is capped so one hostile submission cannot fill the disk; the
# cap is well above the accepted size so the evidence of an oversize report
# survives.
RAW_KEEP_LIMIT = 32 * 1024 * 1024


class ReportError(ValueError):
    """The input cannot be used as a report; the message says why.

    ``report`` is the stored (rejected) report when the raw input was kept.
    ``too_large`` says the input was over the size limit (the API answers 413),
    so callers need not read the message, which is in the reader's language.
    """

    def __init__(
        self, message: str, report: Report | None = None, *, too_large: bool = False
    ) -> None:
        super().__init__(message)
        self.report = report
        self.too_large = too_large


@dataclass
class ReporterInfo:
    name: str = ""
    email: str = ""
    kind: str = ReporterKind.OTHER
    country: str = ""
    language: str = ""

    def validate(self) -> None:
        if self.kind not in ReporterKind.values:
            raise ReportError(
                _("unknown reporter type %(kind)r (one of %(known)s)")
                % {"kind": self.kind, "known": ", ".join(ReporterKind.values)}
            )
        if self.country and (len(self.country) != 2 or not self.country.isalpha()):
            raise ReportError(
                _("reporter country %(country)r is not a 2-letter ISO code")
                % {"country": self.country}
            )
        if self.language and self.language not in {code for code, _ in settings.LANGUAGES}:
            raise ReportError(
                _("reporter language %(language)r is not supported") % {"language": self.language}
            )


@dataclass
class ReportResult:
    report: Report
    sites: list[Site] = field(default_factory=list)
    new_sites: list[Site] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def reporter_get_or_create(info: ReporterInfo, *, known: bool = True) -> Reporter | None:
    """Find a reporter by e-mail (or by name when there is no address); update what is new.

    ``known`` is False for a sender nobody described (mail from an address not
    in the directory): a new reporter is then recorded as not classified, and
    handlers see it in the queue to classify.
    """
    info.validate()
    if not info.email and not info.name:
        return None
    lookup = {"email__iexact": info.email} if info.email else {"name": info.name, "email": ""}
    reporter = Reporter.objects.filter(**lookup).order_by("pk").first()
    country = info.country.upper()
    language = info.language or ("ja" if country == "JP" else "en")
    if reporter is None:
        return Reporter.objects.create(
            name=info.name or info.email,
            email=info.email.lower(),
            kind=info.kind,
            country=country,
            language=language,
            classified=known,
        )
    changed = []
    if info.kind != ReporterKind.OTHER and reporter.kind != info.kind:
        reporter.kind = info.kind
        changed.append("kind")
    if country and reporter.country != country:
        reporter.country = country
        changed.append("country")
    if info.name and reporter.name != info.name:
        reporter.name = info.name
        changed.append("name")
    if changed:
        reporter.save(update_fields=changed)
    return reporter


def _check_choices(purpose: str, tlp: str, channel: str) -> None:
    from takedown.intake.models import TLP

    if channel not in Channel.values:
        raise ReportError(_("unknown channel %(channel)r") % {"channel": channel})
    if purpose not in Purpose.values:
        raise ReportError(
            _("unknown purpose %(purpose)r (one of %(known)s)")
            % {"purpose": purpose, "known": ", ".join(Purpose.values)}
        )
    if tlp not in TLP.values:
        raise ReportError(
            _("unknown TLP %(tlp)r (one of %(known)s)")
            % {"tlp": tlp, "known": ", ".join(TLP.values)}
        )


def report_receive(
    *,
    channel: str,
    text: str = "",
    urls: list[str] | None = None,
    raw_mail: bytes | None = None,
    reporter: ReporterInfo | Reporter | None = None,
    purpose: str = Purpose.REQUEST,
    tlp: str = "amber",
    subject: str = "",
    kind: str = "",
    brand: str = "",
    received: datetime | None = None,
    message_id: str = "",
    dedupe_key: str | None = None,
    actor: str = "system",
    created_by: Any = None,
) -> ReportResult:
    """Store a report and the sites it names.

    Exactly one of ``text`` (free text to extract URLs from), ``urls`` (URLs
    given one by one; each must be valid) or ``raw_mail`` (a whole RFC 5322
    message) carries the content.  Raises ``ReportError`` for input that
    cannot be a report at all; the raw input is stored first whenever there
    is any, so nothing that arrived is lost.
    """
    _check_choices(purpose, tlp, channel)
    if kind and kind not in {"phishing", "malware"}:
        raise ReportError(_("unknown site kind %(kind)r (phishing or malware)") % {"kind": kind})
    received = received or timezone.now()
    if timezone.is_naive(received):
        raise ReportError(_("the received time must carry a time zone"))

    raw_text = text if urls is None else "\n".join(urls)
    size = len(raw_mail) if raw_mail is not None else len(raw_text.encode("utf-8", "replace"))

    if dedupe_key is None and raw_mail is not None:
        dedupe_key = "mail:" + hashlib.sha256(raw_mail).hexdigest()[:59]
    if dedupe_key:
        existing = Report.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return ReportResult(report=existing, sites=list(existing.sites.all()))

    reporter_obj: Reporter | None
    if isinstance(reporter, ReporterInfo):
        reporter_obj = reporter_get_or_create(reporter, known=channel != Channel.EMAIL)
    else:
        reporter_obj = reporter

    report = Report(
        reporter=reporter_obj,
        channel=channel,
        purpose=purpose,
        tlp=tlp,
        received=received,
        subject=subject[:500],
        raw_text=raw_text[:RAW_KEEP_LIMIT] if raw_mail is None else "",
        raw_bytes=raw_mail[:RAW_KEEP_LIMIT] if raw_mail is not None else None,
        dedupe_key=dedupe_key,
        message_id=message_id[:998],
        created_by=created_by,
    )

    if size > settings.MAX_REPORT_BYTES:
        # Stored in English (what the API and scripts read); said in the reader's language.
        too_large = gettext_noop("report is %(size)d bytes, more than the limit of %(limit)d")
        limit = {"size": size, "limit": settings.MAX_REPORT_BYTES}
        report.status = ReportStatus.REJECTED
        report.errors = [too_large % limit]
        report.save()
        raise ReportError(
            _(too_large) % limit,
            report,
            too_large=True,
        )

    errors: list[str] = []
    found: list[ExtractedURL] = []
    sources: dict[str, list[dict[str, str | int]]] = {}
    if urls is not None:
        for raw_url in urls:
            try:
                found.append(normalise_url(raw_url))
            except InvalidURL as exc:
                errors.append(f"{raw_url[:200]!r}: {exc}")
    elif raw_mail is not None:
        from takedown.intake.mail import find_urls, parse_message

        parsed = parse_message(raw_mail)
        if not report.subject:
            report.subject = (parsed.subject or "")[:500]
        if not report.message_id:
            report.message_id = (parsed.message_id or "")[:998]
        in_mail = find_urls(parsed)
        errors.extend(in_mail.warnings)
        found = in_mail.urls
        sources = {url: [s.as_dict() for s in places] for url, places in in_mail.sources.items()}
    else:
        found = extract_urls(text)

    seen: set[str] = set()
    unique = [u for u in found if not (u.url in seen or seen.add(u.url))]  # type: ignore[func-returns-value]
    if len(unique) > settings.MAX_URLS_PER_REPORT:
        errors.append(
            f"{len(unique)} URLs; only the first {settings.MAX_URLS_PER_REPORT} were taken"
        )
        unique = unique[: settings.MAX_URLS_PER_REPORT]

    report.errors = errors
    report.url_sources = {u.url: sources[u.url] for u in unique if u.url in sources}
    if not unique:
        report.status = ReportStatus.EMPTY if not errors else ReportStatus.REJECTED
        report.save()
        event_record(kind=EventKind.REPORT_RECEIVED, report=report, actor=actor, data={"urls": 0})
        message = "; ".join(errors) if errors else _("no URL found in the report")
        raise ReportError(message, report)

    with transaction.atomic():
        report.save()
        sites_by_url = sites_create_bulk(
            [
                {
                    "url": u.url,
                    "host": u.host,
                    "registered_domain": u.registered_domain,
                    "kind": kind or "phishing",
                    "brand": brand,
                    "first_reported": received,
                }
                for u in unique
            ],
            actor=actor,
        )
        sites = [sites_by_url[u.url] for u in unique]
        report.sites.add(*sites)
        new_sites = [s for s in sites if s.url in sites_by_url.new]
        Event.objects.bulk_create(
            [
                Event(
                    kind=EventKind.REPORT_LINKED
                    if site.url in sites_by_url.new
                    else EventKind.SITE_REREPORTED,
                    site=site,
                    report=report,
                    actor=actor,
                    at=received,
                    data={"report": report.pk, "channel": channel},
                )
                for site in sites
            ]
        )
        if len(sites) > 1:
            incident = incident_create(
                title=report.subject or f"{len(sites)} sites reported ({channel})",
                sites=sites,
                actor=actor,
            )
            report.incident = incident
            report.save(update_fields=["incident"])
        event_record(
            kind=EventKind.REPORT_RECEIVED,
            report=report,
            actor=actor,
            at=received,
            data={"urls": len(sites), "new": len(new_sites), "errors": len(errors)},
        )
        # New sites got their locate step from ``sites_create_bulk``; the
        # acknowledgement to the reporter is due with the report.
        work_schedule(step=Step.ACK, ids=[report.pk], new=True)
    return ReportResult(report=report, sites=sites, new_sites=new_sites, errors=errors)


def reporter_register(*, info: ReporterInfo, actor: str) -> Reporter:
    """Put a reporter the team knows in the directory (or update it), classified.

    ``sandbox run`` registers the scenario's reporters this way before the
    run, as a team knows its regular reporters.
    """
    if not info.email and not info.name:
        raise ReportError(_("a reporter needs a name or an e-mail address"))
    reporter = reporter_get_or_create(info)
    assert reporter is not None  # a name or an address was given
    return reporter_classify(
        reporter=reporter,
        actor=actor,
        kind=info.kind,
        country=info.country or reporter.country,
        language=info.language or reporter.language,
        notify_ack=reporter.notify_ack,
        notify_closed=reporter.notify_closed,
    )


def reporter_classify(
    *,
    reporter: Reporter,
    actor: str,
    kind: str,
    country: str,
    language: str,
    notify_ack: bool,
    notify_closed: bool,
) -> Reporter:
    """A handler says who the reporter is: type, country, language, what to send them.

    The statistics read the reporter's type and country when they count its
    reports, so a classification also moves its earlier reports to the right
    row of the reporters table.
    """
    info = ReporterInfo(kind=kind, country=country.strip(), language=language)
    info.validate()
    values = {
        "kind": kind,
        "country": country.strip().upper(),
        "language": language or reporter.language,
        "notify_ack": notify_ack,
        "notify_closed": notify_closed,
        "classified": True,
    }
    before = {name: getattr(reporter, name) for name in values}
    changed = {name: value for name, value in values.items() if before[name] != value}
    with transaction.atomic():
        if changed:
            Reporter.objects.filter(pk=reporter.pk).update(**changed)
            for name, value in changed.items():
                setattr(reporter, name, value)
        event_record(
            kind=EventKind.REPORTER_CLASSIFIED,
            actor=actor,
            message=str(reporter),
            data={
                "reporter": reporter.pk,
                "changes": {name: [before[name], value] for name, value in changed.items()},
            },
        )
    return reporter
