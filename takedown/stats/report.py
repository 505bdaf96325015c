"""The monthly report: the month's tables and charts as one self-contained page.

The HTML carries its charts as SVG data URIs and its style inline, so it can
be mailed, archived or published as it is.  The PDF is that page printed by
Chromium (Debian's, through Playwright) with JavaScript off and every network
request refused: the page has nothing to load, and a brand name from a
report cannot make the printer fetch anything.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import pgettext

from takedown.stats import charts, tables
from takedown.stats.calendar import Period, local_tz, month_period, month_start
from takedown.stats.selectors import Stats, stats_compute
from takedown.stats.tables import Table


class ReportError(Exception):
    pass


@dataclass
class Section:
    table: Table
    chart: str  # a data: URI, or ""


def _chart_uri(name: str, stats: Stats) -> str:
    svg = charts.chart_render(name, stats, "svg")
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def trailing_year(year: int, month: int, as_of: datetime) -> Period:
    """The twelve months ending with the given one (the context of its report count)."""
    return Period(
        start=month_start(year, month - 11),
        end=month_start(year, month + 1),
        key="12m",
        as_of=as_of,
    )


def _change(current: int, previous: int) -> str:
    if not previous:
        return ""
    return f"{(current - previous) / previous * 100:+.0f}%"


def report_context(year: int, month: int, *, as_of: datetime | None = None) -> dict[str, Any]:
    as_of = as_of or timezone.now()
    period = month_period(year, month, as_of=as_of)
    stats = stats_compute(period)
    context_stats = stats_compute(trailing_year(year, month, as_of))
    key = period.key
    previous_key = next(
        (m for m in reversed(list(context_stats.reports_by_month)) if m < key), None
    )
    reports = context_stats.reports_by_month.get(key, 0)
    previous = context_stats.reports_by_month.get(previous_key, 0) if previous_key else 0
    noticed = sum(o.sites for o in stats.organizations)
    down = sum(o.closed for o in stats.organizations)
    median = stats.survival.median_hours
    fb = stats.feedback
    summary = [
        (pgettext("stats", "Reports received"), f"{reports}", _change(reports, previous)),
        (pgettext("stats", "New sites"), f"{stats.sites_total}", ""),
        (pgettext("stats", "Sites noticed"), f"{noticed}", ""),
        (
            pgettext("stats", "Of those, taken down"),
            f"{down}",
            tables.percent(down / noticed) if noticed else "",
        ),
        (
            pgettext("stats", "Median time to takedown"),
            tables.duration_text(median) if median is not None else "-",
            "",
        ),
        (
            pgettext("stats", "Reporters told of the closure"),
            f"{fb.told} / {fb.down}",
            "",
        ),
    ]
    sections = [
        Section(tables.reports_table(context_stats), _chart_uri("reports_by_month", context_stats)),
        Section(tables.reporters_table(stats), _chart_uri("reporters", stats)),
        Section(tables.admins_table(stats), _chart_uri("admins", stats)),
        Section(tables.organizations_table(stats, limit=40), _chart_uri("organizations", stats)),
        Section(tables.survival_table(stats), _chart_uri("survival", stats)),
        Section(tables.brands_table(stats), _chart_uri("brands", stats)),
        Section(tables.repeat_networks_table(stats), ""),
        Section(tables.feedback_table(stats), _chart_uri("feedback", stats)),
    ]
    return {
        "period": period,
        "period_label": period.label(),
        "as_of": timezone.localtime(as_of, local_tz()),
        "team": settings.TEAM_NAME,
        "summary": summary,
        "sections": sections,
        "lang": translation.get_language(),
    }


def report_html(year: int, month: int, *, lang: str, as_of: datetime | None = None) -> str:
    with translation.override(lang):
        context = report_context(year, month, as_of=as_of)
        return render_to_string("stats/monthly_report.html", context)


def html_to_pdf(html: str, out: Path) -> None:
    """Print ``html`` to ``out`` with Chromium; ReportError when it cannot."""
    browser_path = settings.CHROMIUM_PATH
    if not browser_path or not Path(browser_path).exists():
        raise ReportError(
            f"Chromium not found at {browser_path!r} (TAKEDOWN_CHROMIUM_PATH); "
            "install it or write HTML with --html"
        )
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dependency
        raise ReportError("playwright is not installed; write HTML with --html") from None
    # Chromium refuses to start as root with its sandbox on; the page is our own,
    # without scripts or network, so that sandbox adds little here.
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=browser_path, args=args)
            try:
                page = browser.new_context(java_script_enabled=False, offline=True).new_page()
                page.route("**/*", lambda route: route.abort())
                page.set_content(html, wait_until="load")
                page.pdf(
                    path=str(out),
                    format="A4",
                    print_background=True,
                    margin={"top": "14mm", "bottom": "14mm", "left": "12mm", "right": "12mm"},
                )
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise ReportError(f"printing to PDF failed: {str(exc).splitlines()[0]}") from None
