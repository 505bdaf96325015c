"""Statistics pages: the seed's four tables, what the seed could not show, charts and CSV."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import pgettext

from takedown.access.roles import Role, role_required
from takedown.stats import charts, tables
from takedown.stats.calendar import parse_fiscal_year
from takedown.stats.selectors import fiscal_years_in, period_all, stats_get
from takedown.stats.tables import Table

# Table -> the chart drawn beside it.
CHART_OF = {
    "reports_by_month": "reports_by_month",
    "reporters": "reporters",
    "admins": "admins",
    "organizations": "organizations",
    "survival": "survival",
    "brands": "brands",
    "repeat_networks": "repeat_networks",
    "feedback": "feedback",
}
ORG_ROWS_SHOWN = 50


class BadParameter(ValueError):
    pass


def _fy(request: HttpRequest) -> int | None:
    raw = request.GET.get("fy", "").strip()
    if raw in {"", "all"}:
        return None
    try:
        return parse_fiscal_year(raw)
    except ValueError as exc:
        raise BadParameter(str(exc)) from None


def _bad(message: str) -> HttpResponse:
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


def _url(route: str, fy: int | None, download: bool = False, **kwargs: str) -> str:
    params = {}
    if fy is not None:
        params["fy"] = str(fy)
    if download:
        params["download"] = "1"
    return reverse(route, kwargs=kwargs) + (f"?{urlencode(params)}" if params else "")


@dataclass
class Block:
    table: Table
    chart: str | None
    fy: int | None

    def chart_url(self, fmt: str, download: bool = False) -> str:
        if not self.chart:
            return ""
        return _url("stats:chart", self.fy, download, name=self.chart, fmt=fmt)

    @property
    def svg(self) -> str:
        return self.chart_url("svg")

    @property
    def svg_download(self) -> str:
        return self.chart_url("svg", download=True)

    @property
    def png_download(self) -> str:
        return self.chart_url("png", download=True)

    @property
    def csv(self) -> str:
        return _url("stats:csv", self.fy, name=self.table.name)

    @property
    def collapse(self) -> bool:
        # Months pile up over the years; the chart above already shows them.
        return self.table.name == "reports_by_month" and len(self.table.rows) > 15


def _year_choices() -> list[int]:
    years = [p.fiscal_year for p in fiscal_years_in(period_all()) if p.fiscal_year is not None]
    return sorted(years, reverse=True)


def _page(request: HttpRequest, names: tuple[str, ...], template: str, title: str) -> HttpResponse:
    try:
        fy = _fy(request)
    except BadParameter as exc:
        return _bad(str(exc))
    stats = stats_get(fy=fy)
    blocks = []
    for name in names:
        table = (
            tables.organizations_table(stats, limit=ORG_ROWS_SHOWN)
            if name == "organizations"
            else tables.build_table(name, stats)
        )
        blocks.append(Block(table=table, chart=CHART_OF.get(name), fy=fy))
    context: dict[str, Any] = {
        "title": title,
        "blocks": blocks,
        "stats": stats,
        "fy": fy,
        "years": _year_choices(),
        "period_label": stats.period.label(),
        "as_of": stats.period.as_of,
    }
    if template.endswith("more.html"):
        context["country_chart"] = Block(
            table=tables.survival_table(stats), chart="survival_country", fy=fy
        )
    return render(request, template, context)


@role_required(Role.VIEWER)
def index(request: HttpRequest) -> HttpResponse:
    return _page(request, tables.SEED_TABLES, "stats/index.html", pgettext("stats", "Statistics"))


@role_required(Role.VIEWER)
def more(request: HttpRequest) -> HttpResponse:
    return _page(
        request, tables.MORE_TABLES, "stats/more.html", pgettext("stats", "Beyond the seed")
    )


@role_required(Role.VIEWER)
def chart(request: HttpRequest, name: str, fmt: str) -> HttpResponse:
    if name not in charts.CHARTS:
        raise Http404("no such chart")
    if fmt not in charts.FORMATS:
        raise Http404("no such format")
    try:
        fy = _fy(request)
    except BadParameter as exc:
        return _bad(str(exc))
    body = charts.chart_render(name, stats_get(fy=fy), fmt)
    response = HttpResponse(body, content_type=charts.FORMATS[fmt])
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="{_filename(name, fy, fmt)}"'
    response["Cache-Control"] = "private, max-age=60"
    return response


def _filename(name: str, fy: int | None, ext: str) -> str:
    # Built from validated parts only: never from user text.
    return f"takedown-{name}-{f'FY{fy}' if fy is not None else 'all'}.{ext}"


@role_required(Role.VIEWER)
def table_csv_view(request: HttpRequest, name: str) -> HttpResponse:
    if name not in tables.BUILDERS:
        raise Http404("no such table")
    try:
        fy = _fy(request)
    except BadParameter as exc:
        return _bad(str(exc))
    table = tables.build_table(name, stats_get(fy=fy))
    # A BOM so that spreadsheet programs read the Japanese text as UTF-8.
    body = "\ufeff" + tables.table_csv(table)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(name, fy, "csv")}"'
    return response
