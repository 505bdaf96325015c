"""Turn a Notice into its subject, text and X-ARF attachment.

Mail text comes from per-language Django templates in
``notices/mail/<name>.<lang>.txt``; a Japanese notice carries the English
text below the Japanese one, because the person who reads the abuse mailbox
of a Japanese network is not always a Japanese speaker.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from takedown.cases.models import Event, Site, SiteKind
from takedown.lib.defang import defang
from takedown.notices.models import Notice, NoticeKind, NoticeSite
from takedown.notices.xarf import xarf_errors, xarf_report

log = logging.getLogger(__name__)

KIND_LABEL: dict[str, dict[str, str]] = {
    "en": {SiteKind.PHISHING: "phishing site", SiteKind.MALWARE: "malware distribution site"},
    "ja": {SiteKind.PHISHING: "フィッシングサイト", SiteKind.MALWARE: "マルウェア設置サイト"},
}
ROLE_LABEL = {
    "en": {
        "registrar": "the registrar of the domain",
        "cdn": "the CDN in front of the site",
        "csirt": "the national CSIRT",
    },
    "ja": {
        "registrar": "ドメインのレジストラ",
        "cdn": "サイトの前段の CDN",
        "csirt": "ナショナル CSIRT",
    },
}


def org_language(org: Any) -> str:
    """Japanese (with English below) for JP networks, else the organisation's language.

    ``Organization.language`` defaults to "en" before anyone looks at it, so
    "en" on a JP network cannot mean a handler's choice; such a notice gets
    both languages, which serves an English reader too.
    """
    lang = (getattr(org, "language", "") or "").lower()
    country = (getattr(org, "country", "") or "").upper()
    if country == "JP" and lang in {"", "en"}:
        return "ja"
    return lang if lang in {"ja", "en"} else "en"


def _local(dt: Any) -> str:
    if dt is None:
        return "-"
    return timezone.localtime(dt).strftime("%Y-%m-%d %H:%M %Z")


def _render(name: str, lang: str, context: dict[str, Any]) -> str:
    text = str(render_to_string(f"notices/mail/{name}.{lang}.txt", context))
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _subject(name: str, lang: str, context: dict[str, Any]) -> str:
    text = render_to_string(f"notices/mail/{name}_subject.{lang}.txt", context)
    return " ".join(text.split())[:400]


def evidence_sha256(site: Site) -> str:
    """The hash of the page the monitor captured, when it recorded one."""
    try:
        from takedown.monitor import models as monitor_models
    except ImportError:
        monitor_models = None  # type: ignore[assignment]
    evidence_model = getattr(monitor_models, "Evidence", None)
    if evidence_model is not None:
        try:
            row = evidence_model.objects.filter(site=site).order_by("-pk").first()
        except Exception:  # a schema we do not know: fall back to the timeline
            row = None
        for attr in ("sha256", "content_sha256", "body_sha256", "html_sha256", "content_hash"):
            value = getattr(row, attr, "") if row is not None else ""
            if isinstance(value, str) and re.fullmatch(r"[0-9a-fA-F]{64}", value):
                return value.lower()
    for data in (
        Event.objects.filter(site=site, kind__startswith="evidence")
        .order_by("-at", "-id")
        .values_list("data", flat=True)[:5]
    ):
        if isinstance(data, dict):
            for key in ("sha256", "content_sha256", "hash"):
                value = str(data.get(key, ""))
                if re.fullmatch(r"[0-9a-fA-F]{64}", value):
                    return value.lower()
    return ""


def _previous_notice(site: Site, before: Notice) -> NoticeSite | None:
    return (
        NoticeSite.objects.filter(
            site=site,
            notice__kind__in=[NoticeKind.INITIAL, NoticeKind.REVIVAL],
            notice__sent_at__isnull=False,
        )
        .exclude(notice=before)
        .select_related("notice")
        .order_by("-notice__sent_at")
        .first()
    )


def recurrence_text(site: Site, lang: str) -> str:
    """Say so when this server (IP or earlier site) hosted a reported site before.

    The earlier URL itself is not repeated: it is closed, and a notice must
    name only what we ask the recipient to act on now.
    """
    earlier = site.recurrence_of
    if earlier is None and site.ip:
        earlier = (
            Site.objects.filter(ip=site.ip, first_reported__lt=site.first_reported)
            .exclude(pk=site.pk)
            .order_by("-first_reported")
            .first()
        )
    if earlier is None:
        return ""
    ns = _previous_notice(earlier, Notice(pk=0))
    if ns is not None:
        when, token = _local(ns.notice.sent_at), ns.notice.token
        if lang == "ja":
            return (
                f"このサーバについては {when} にも別の URL の件でご連絡しています（{token}）。"
                "再び侵入された可能性があります。"
            )
        return (
            f"we notified you about another URL on this server on {when} ({token}); "
            "the server may have been compromised again."
        )
    when = _local(earlier.first_reported)
    if lang == "ja":
        return f"このサーバでは {when} にも別のサイトが報告されています。"
    return f"another site on this server was reported to us on {when}."


def _site_rows(notice: Notice, sites: list[Site], lang: str) -> list[dict[str, Any]]:
    rows = []
    for site in sites:
        revived = ""
        if site.state == "revived" or notice.kind == NoticeKind.REVIVAL:
            prev = _previous_notice(site, notice)
            if prev is not None:
                revived = f"{prev.notice.token}, {_local(prev.notice.sent_at)}"
        rows.append(
            {
                "url": defang(site.url),
                "ip": site.ip or "-",
                "first_seen": _local(site.first_reported),
                "kind_label": KIND_LABEL[lang].get(site.kind, site.kind),
                "brand": site.brand,
                "evidence": evidence_sha256(site),
                "recurrence": recurrence_text(site, lang),
                "revived": revived,
            }
        )
    return rows


def _kind_label(sites: list[Site], lang: str) -> str:
    kinds = {s.kind for s in sites}
    if kinds == {SiteKind.MALWARE}:
        return KIND_LABEL[lang][SiteKind.MALWARE]
    if kinds == {SiteKind.PHISHING}:
        return KIND_LABEL[lang][SiteKind.PHISHING]
    return "フィッシングサイト等" if lang == "ja" else "phishing or malware site"


def notice_text(
    notice: Notice, sites: list[Site], *, extra: dict[str, Any] | None = None
) -> tuple[str, str]:
    """Subject and body of a notice to an organisation (or an escalation)."""
    root = notice.root
    langs = ["ja", "en"] if notice.language == "ja" else ["en"]
    bodies = []
    base = {
        "team_name": settings.TEAM_NAME,
        "team_email": settings.NOTICE_FROM,
        "token": notice.token,
        "kind": notice.kind,
        "org_name": notice.organization.name if notice.organization else "",
        "followup": root.followups if notice.kind == NoticeKind.FOLLOWUP else 0,
        "followups": root.followups,
        "root_token": root.token,
        "root_sent": _local(root.sent_at),
        "xarf": settings.NOTICE_XARF,
        **(extra or {}),
    }
    for lang in langs:
        context = {
            **base,
            "sites": _site_rows(notice, sites, lang),
            "kind_label": _kind_label(sites, lang),
            "escalation_roles": "、".join(ROLE_LABEL[lang].get(r, r) for r in base.get("roles", []))
            if lang == "ja"
            else ", ".join(ROLE_LABEL[lang].get(r, r) for r in base.get("roles", [])),
        }
        bodies.append(_render("notice", lang, context))
    body = (
        bodies[0]
        if len(bodies) == 1
        else bodies[0] + "\n" + "-" * 40 + " English " + "-" * 40 + "\n\n" + bodies[1]
    )
    subject_context = {
        **base,
        "kind_label": _kind_label(sites, langs[0]),
        "kind_label_en": _kind_label(sites, "en"),
        "first_url": defang(sites[0].url) if sites else "",
        "more": max(0, len(sites) - 1),
    }
    return _subject("notice", langs[0], subject_context), body


def reporter_text(notice: Notice, name: str, context: dict[str, Any]) -> tuple[str, str]:
    lang = notice.language if notice.language in {"ja", "en"} else "en"
    full = {
        "team_name": settings.TEAM_NAME,
        "team_email": settings.NOTICE_FROM,
        "token": notice.token,
        "reporter_name": notice.reporter.name if notice.reporter else "",
        **context,
    }
    return _subject(name, lang, full), _render(name, lang, full)


def xarf_attachment(notice: Notice, sites: list[Site]) -> tuple[list[dict[str, Any]], bytes]:
    reports = []
    for site in sites:
        report = xarf_report(
            url=site.url,
            host=site.host,
            kind=site.kind,
            ip=site.ip,
            first_seen=site.first_reported,
            brand=site.brand,
            team_name=settings.TEAM_NAME,
            team_email=settings.NOTICE_FROM,
            evidence_sha256=evidence_sha256(site),
            verified_at=timezone.now(),
        )
        errors = xarf_errors(report)
        if errors:
            # Never send an attachment the recipient's tooling would reject;
            # the human text carries everything anyway.
            log.warning("notice %s: X-ARF for site %s invalid: %s", notice.pk, site.pk, errors)
            continue
        reports.append(report)
    payload = reports[0] if len(reports) == 1 else reports
    return reports, json.dumps(payload, indent=2, ensure_ascii=False).encode()
