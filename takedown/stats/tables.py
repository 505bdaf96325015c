"""The statistics as tables: display cells as the seed writes them, and raw CSV rows.

The CLI (rich), the web pages and the monthly report all render these, so a
figure reads the same everywhere ("6 hours", "3 business days", "20 min").
Labels are translated when the table is built: call under the language wanted.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from django.utils.formats import date_format
from django.utils.translation import npgettext, pgettext

from takedown.stats.calendar import local_tz
from takedown.stats.selectors import (
    ADMIN_KINDS,
    FEEDBACK_HOURS,
    REPORTER_KINDS,
    REPORTER_SIDES,
    UNKNOWN,
    OrgClosure,
    Stats,
    Survival,
)

ORG_CSV_COLUMNS = [
    "org", "type", "country", "replies", "reply_rate", "notices", "replied", "sites",
    "closed", "closure_rate", "sites_per_month", "avg_hours", "min_hours", "max_hours",
    "avg_business_days", "min_business_days", "max_business_days",
]  # fmt: skip
# Where the survival table reads the curves (hours).
SURVIVAL_COLUMNS = [1, 6, 24, 72, 168, 720]


@dataclass
class Table:
    name: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    csv_columns: list[str]
    csv_rows: list[list[Any]]
    # Optional header row above ``columns``: (label, how many columns it spans).
    groups: list[tuple[str, int]] = field(default_factory=list)
    note: str = ""
    # Which columns hold numbers (right-aligned).
    numeric: set[int] = field(default_factory=set)


# --- labels -------------------------------------------------------------------


def reporter_kind_label(kind: str) -> str:
    return {
        "csirt": pgettext("stats", "CSIRT"),
        "security_vendor": pgettext("stats", "Security service"),
        "financial": pgettext("stats", "Bank or credit-card company"),
        "ecommerce": pgettext("stats", "E-commerce"),
        "other": pgettext("stats", "Other"),
    }.get(kind, kind)


def side_label(side: str) -> str:
    return {
        "overseas": pgettext("stats", "Overseas"),
        "domestic": pgettext("stats", "Domestic"),
        UNKNOWN: pgettext("stats", "Unknown"),
    }.get(side, side)


def admin_label(kind: str) -> str:
    return {
        "isp": pgettext("stats", "Domestic ISP/xSP"),
        "company": pgettext("stats", "Domestic company"),
        "school": pgettext("stats", "Domestic school"),
        "overseas": pgettext("stats", "Overseas organisation"),
        "other": pgettext("stats", "Other"),
        UNKNOWN: pgettext("stats", "Not located"),
    }.get(kind, kind)


def replies_text(value: str) -> str:
    return {
        "yes": pgettext("stats replies", "yes"),
        "sometimes": pgettext("stats replies", "sometimes"),
        "rarely": pgettext("stats replies", "almost never"),
        "no": pgettext("stats replies", "no"),
    }.get(value, value)


def _half_up(value: float) -> int:
    return int(value + 0.5)


def duration_text(hours: float | None, business_days: float | None = None) -> str:
    """ "20 min", "6 hours", "3 business days" (the seed's way), "-" when unknown.

    Under a day of real time, or under one business day, the time is given
    in minutes or hours; from a business day on, in business days.
    """
    if hours is None:
        return "-"
    if hours < 1:
        minutes = _half_up(hours * 60)
        if minutes < 1:
            return pgettext("stats", "<1 min")
        if minutes < 60:
            return npgettext("stats", "%(n)d min", "%(n)d min", minutes) % {"n": minutes}
    days = _half_up(business_days) if business_days is not None else 0
    if hours < 24 or days < 1:
        n = max(_half_up(hours), 1)
        return npgettext("stats", "%(n)d hour", "%(n)d hours", n) % {"n": n}
    return npgettext("stats", "%(n)d business day", "%(n)d business days", days) % {"n": days}


def percent(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.0f}%"


def per_month_text(row: OrgClosure) -> str:
    # A single site gives no meaningful rate (the seed writes "-" for E and F).
    if row.sites <= 1:
        return "-"
    value = row.sites_per_month
    return f"{_half_up(value)}" if value >= 1 else f"{value:.1f}"


def hours_label(hours: float) -> str:
    """A span in calendar time: "5 min", "4 hours", "3 days"."""
    if hours < 1:
        minutes = _half_up(hours * 60)
        return npgettext("stats", "%(n)d min", "%(n)d min", minutes) % {"n": minutes}
    if hours < 24:
        n = _half_up(hours)
        return npgettext("stats", "%(n)d hour", "%(n)d hours", n) % {"n": n}
    days = _half_up(hours / 24)
    return npgettext("stats", "%(n)d day", "%(n)d days", days) % {"n": days}


def _num(value: float | None, digits: int = 2) -> Any:
    return "" if value is None else round(value, digits)


def _date(value: Any) -> str:
    if value is None:
        return "-"
    from django.utils import timezone

    return date_format(timezone.localtime(value, local_tz()), "Y-m-d")


# --- CSV ----------------------------------------------------------------------


def csv_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas: brands and names come from strangers."""
    if isinstance(value, str) and value[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        return "'" + value
    return value


def table_csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.csv_columns)
    for row in table.csv_rows:
        writer.writerow([csv_cell(v) for v in row])
    return buf.getvalue()


# --- tables -------------------------------------------------------------------


def reports_table(stats: Stats) -> Table:
    rows = []
    csv_rows = []
    for month, n in stats.reports_by_month.items():
        sites = stats.sites_by_month.get(month, 0)
        rows.append([month, str(n), str(sites)])
        csv_rows.append([month, n, sites])
    return Table(
        name="reports_by_month",
        title=pgettext("stats", "Phishing site reports per month"),
        columns=[
            pgettext("stats", "Month"),
            pgettext("stats", "Reports"),
            pgettext("stats", "New sites"),
        ],
        rows=rows,
        csv_columns=["month", "reports", "sites"],
        csv_rows=csv_rows,
        numeric={1, 2},
    )


def _fy_labels(stats: Stats) -> dict[int, str]:
    """Column labels of the per-fiscal-year tables (the month itself for a monthly period)."""
    if stats.period.is_month:
        return {y: stats.period.label() for y in [*stats.reporters, *stats.admins]}
    return {p.fiscal_year: p.label() for p in stats.fiscal_years if p.fiscal_year is not None}


def reporters_table(stats: Stats) -> Table:
    labels = _fy_labels(stats)
    years = sorted(stats.reporters)
    sides = list(REPORTER_SIDES)
    if any(s.get(UNKNOWN) for y in years for s in stats.reporters[y].values()):
        sides.append(UNKNOWN)
    columns = [pgettext("stats", "Reporter")]
    groups: list[tuple[str, int]] = [("", 1)]
    for y in years:
        groups.append((labels.get(y, f"FY{y}"), len(sides)))
        columns.extend(side_label(s) for s in sides)
    rows = []
    totals = [0] * (len(years) * len(sides))
    csv_rows = []
    for kind in REPORTER_KINDS:
        row = [reporter_kind_label(kind)]
        i = 0
        for y in years:
            for s in sides:
                n = stats.reporters[y].get(kind, {}).get(s, 0)
                row.append(str(n))
                totals[i] += n
                i += 1
                csv_rows.append([f"FY{y}", kind, s, n])
        rows.append(row)
    rows.append([pgettext("stats", "Total"), *(str(t) for t in totals)])
    return Table(
        name="reporters",
        title=pgettext("stats", "Phishing reporters (by type)"),
        columns=columns,
        rows=rows,
        csv_columns=["fiscal_year", "type", "side", "reports"],
        csv_rows=csv_rows,
        groups=groups,
        note=pgettext("stats", "Reports received, by the reporter's type and country."),
        numeric=set(range(1, len(columns))),
    )


def admins_table(stats: Stats) -> Table:
    labels = _fy_labels(stats)
    years = sorted(stats.admins)
    kinds = list(ADMIN_KINDS)
    if any(stats.admins[y].get(UNKNOWN) for y in years):
        kinds.append(UNKNOWN)
    rows = []
    csv_rows = []
    for kind in kinds:
        row = [admin_label(kind)]
        for y in years:
            n = stats.admins[y].get(kind, 0)
            row.append(str(n))
            csv_rows.append([f"FY{y}", kind, n])
        rows.append(row)
    rows.append([pgettext("stats", "Total"), *(str(sum(stats.admins[y].values())) for y in years)])
    return Table(
        name="admins",
        title=pgettext("stats", "IP address administrators of phishing sites (by type)"),
        columns=[pgettext("stats", "Phishing sites"), *(labels.get(y, f"FY{y}") for y in years)],
        rows=rows,
        csv_columns=["fiscal_year", "type", "sites"],
        csv_rows=csv_rows,
        note=pgettext(
            "stats",
            "Sites by the month first reported and the holder of their IP address; "
            "overseas: a holder outside the home country.",
        ),
        numeric=set(range(1, len(years) + 1)),
    )


def organizations_table(stats: Stats, limit: int | None = None) -> Table:
    rows: list[list[str]] = []
    csv_rows: list[list[Any]] = []
    for o in stats.organizations:
        name = o.name or pgettext("stats", "(unknown)")
        single = o.closed <= 1
        if len(rows) < (limit or len(stats.organizations)):
            rows.append(
                [
                    name,
                    replies_text(o.replies),
                    duration_text(o.hours("avg"), o.days("avg")),
                    "-" if single else duration_text(o.hours("low"), o.days("low")),
                    "-" if single else duration_text(o.hours("high"), o.days("high")),
                    per_month_text(o),
                    percent(o.closure_rate),
                ]
            )
        csv_rows.append(
            [
                name,
                o.category,
                o.country,
                o.replies,
                _num(o.reply_rate, 3),
                o.notices,
                o.replied,
                o.sites,
                o.closed,
                _num(o.closure_rate, 3),
                _num(o.sites_per_month),
                _num(o.hours("avg")),
                _num(o.hours("low")),
                _num(o.hours("high")),
                _num(o.days("avg")),
                _num(o.days("low")),
                _num(o.days("high")),
            ]
        )
    more = len(stats.organizations) - len(rows)
    return Table(
        name="organizations",
        title=pgettext("stats", "Phishing site closure response"),
        columns=[
            pgettext("stats", "Organisation"),
            pgettext("stats", "Replies"),
            pgettext("stats", "Average"),
            pgettext("stats", "Shortest"),
            pgettext("stats", "Longest"),
            pgettext("stats", "Sites (per month)"),
            pgettext("stats", "Closure rate"),
        ],
        groups=[("", 2), (pgettext("stats", "Time to closure"), 3), ("", 2)],
        rows=rows,
        csv_columns=ORG_CSV_COLUMNS,
        csv_rows=csv_rows,
        note=(
            pgettext(
                "stats",
                "Sites by their first notice; time to closure runs from the first notice "
                "to the first confirmed-down check.",
            )
            + (
                " "
                + npgettext(
                    "stats",
                    "%(n)d more organisation in the CSV.",
                    "%(n)d more organisations in the CSV.",
                    more,
                )
                % {"n": more}
                if more > 0
                else ""
            )
        ),
        numeric={5, 6},
    )


def survival_groups(stats: Stats) -> list[tuple[str, str, Survival]]:
    """(group kind, label, curve): everything, then by administrator type, then by country."""
    out = [("all", pgettext("stats", "All sites"), stats.survival)]
    out += [("type", admin_label(k), s) for k, s in stats.survival_by_type.items()]
    out += [
        ("country", k if k != UNKNOWN else pgettext("stats", "Unknown"), s)
        for k, s in stats.survival_by_country.items()
    ]
    return out


def survival_table(stats: Stats) -> Table:
    rows = []
    csv_rows = []
    for group, label, s in survival_groups(stats):
        if not s.sites:
            continue
        median = s.median_hours
        rows.append(
            [
                label,
                str(s.sites),
                str(s.closed),
                hours_label(median) if median is not None else "-",
                *(percent(s.share_up_at(h)) for h in SURVIVAL_COLUMNS),
            ]
        )
        csv_rows.append(
            [
                group,
                label,
                s.sites,
                s.closed,
                _num(median),
                *(_num(s.share_up_at(h), 4) for h in SURVIVAL_COLUMNS),
            ]
        )
    return Table(
        name="survival",
        title=pgettext("stats", "Time to takedown: share of sites still up after the notice"),
        columns=[
            pgettext("stats", "Group"),
            pgettext("stats", "Noticed"),
            pgettext("stats", "Down"),
            pgettext("stats", "Median"),
            *(hours_label(h) for h in SURVIVAL_COLUMNS),
        ],
        groups=[("", 4), (pgettext("stats", "Still up after"), len(SURVIVAL_COLUMNS))],
        rows=rows,
        csv_columns=[
            "group",
            "label",
            "sites",
            "closed",
            "median_hours",
            *(f"up_after_{h}h" for h in SURVIVAL_COLUMNS),
        ],
        csv_rows=csv_rows,
        note=pgettext(
            "stats",
            "Sites still up are counted until now (life table); medians are interpolated.",
        ),
        numeric=set(range(1, 4 + len(SURVIVAL_COLUMNS))),
    )


def brands_table(stats: Stats) -> Table:
    total = stats.sites_total or 1
    rows = []
    csv_rows = []
    for i, (brand, n) in enumerate(stats.brands, start=1):
        label = brand or pgettext("stats", "(no brand)")
        rows.append([str(i), label, str(n), percent(n / total)])
        csv_rows.append([i, brand, n, round(n / total, 4)])
    return Table(
        name="brands",
        title=pgettext("stats", "Brands targeted"),
        columns=[
            "#",
            pgettext("stats", "Brand"),
            pgettext("stats", "Sites"),
            pgettext("stats", "Share"),
        ],
        rows=rows,
        csv_columns=["rank", "brand", "sites", "share"],
        csv_rows=csv_rows,
        note=npgettext(
            "stats",
            "Out of %(n)d site reported in the period.",
            "Out of %(n)d sites reported in the period.",
            stats.sites_total,
        )
        % {"n": stats.sites_total},
        numeric={0, 2, 3},
    )


def repeat_ips_table(stats: Stats) -> Table:
    rec = stats.recurrence
    rows = [
        [r.where, r.org or "-", str(r.sites), _date(r.first), _date(r.last)] for r in rec.top_ips
    ]
    by = ", ".join(f"{k}: {v}" for k, v in sorted(rec.events_by.items())) or "-"
    return Table(
        name="repeat_ips",
        title=pgettext("stats", "Servers with repeated sites"),
        columns=[
            pgettext("stats", "IP address"),
            pgettext("stats", "Organisation"),
            pgettext("stats", "Sites"),
            pgettext("stats", "First reported"),
            pgettext("stats", "Last reported"),
        ],
        rows=rows,
        csv_columns=["ip", "org", "sites", "first_reported", "last_reported"],
        csv_rows=[[r.where, r.org, r.sites, _date(r.first), _date(r.last)] for r in rec.top_ips],
        note=pgettext(
            "stats",
            "%(ips)d addresses hosted more than one site (%(sites)d sites); "
            "%(linked)d sites were linked to an earlier one (recurrences by %(by)s).",
        )
        % {
            "ips": rec.repeated_ips,
            "sites": rec.sites_on_repeated_ips,
            "linked": rec.linked_sites,
            "by": by,
        },
        numeric={2},
    )


def repeat_networks_table(stats: Stats) -> Table:
    nets = stats.recurrence.top_networks
    return Table(
        name="repeat_networks",
        title=pgettext("stats", "Networks with repeated sites"),
        columns=[
            pgettext("stats", "Network"),
            pgettext("stats", "Organisation"),
            pgettext("stats", "Addresses"),
            pgettext("stats", "Sites"),
        ],
        rows=[[r.where, r.org or "-", str(r.addresses), str(r.sites)] for r in nets],
        csv_columns=["network", "org", "addresses", "sites"],
        csv_rows=[[r.where, r.org, r.addresses, r.sites] for r in nets],
        numeric={2, 3},
    )


def feedback_labels() -> list[str]:
    """ "under 1 min", "1 min to 5 min", ..., "over 7 days": one per bucket."""
    out = [pgettext("stats", "under %(t)s") % {"t": hours_label(FEEDBACK_HOURS[0])}]
    for low, high in pairwise(FEEDBACK_HOURS):
        out.append(
            pgettext("stats", "%(a)s to %(b)s") % {"a": hours_label(low), "b": hours_label(high)}
        )
    out.append(pgettext("stats", "over %(t)s") % {"t": hours_label(FEEDBACK_HOURS[-1])})
    return out


def feedback_table(stats: Stats) -> Table:
    fb = stats.feedback
    rows = []
    csv_rows = []
    total = fb.down or 1
    for label, n, bound in zip(feedback_labels(), fb.buckets, [*FEEDBACK_HOURS, None], strict=True):
        rows.append([label, str(n), percent(n / total)])
        csv_rows.append(["" if bound is None else bound, n])
    not_told = fb.down - fb.told
    rows.append([pgettext("stats", "not told (yet)"), str(not_told), percent(not_told / total)])
    csv_rows.append(["not_told", not_told])
    avg = fb.seconds.avg
    return Table(
        name="feedback",
        title=pgettext("stats", "Reporter feedback: confirmed down to reporter told"),
        columns=[
            pgettext("stats", "Delay"),
            pgettext("stats", "Sites"),
            pgettext("stats", "Share"),
        ],
        rows=rows,
        csv_columns=["within_hours", "sites"],
        csv_rows=csv_rows,
        note=pgettext("stats", "%(down)d sites confirmed down; average delay %(avg)s.")
        % {"down": fb.down, "avg": duration_text(None if avg is None else avg / 3600)},
        numeric={1, 2},
    )


SEED_TABLES = ("reports_by_month", "reporters", "admins", "organizations")
MORE_TABLES = ("survival", "brands", "repeat_ips", "repeat_networks", "feedback")

BUILDERS = {
    "reports_by_month": reports_table,
    "reporters": reporters_table,
    "admins": admins_table,
    "organizations": organizations_table,
    "survival": survival_table,
    "brands": brands_table,
    "repeat_ips": repeat_ips_table,
    "repeat_networks": repeat_networks_table,
    "feedback": feedback_table,
}


def build_table(name: str, stats: Stats) -> Table:
    return BUILDERS[name](stats)
