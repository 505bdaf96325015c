"""The statistics, read from the stored timeline and aggregated in SQL.

Nothing here keeps a counter: every figure is recomputed from the rows that
record what happened (``Report``, ``Site`` and the ``Event`` timeline), so a
figure cannot drift from the history it summarises.  Each query groups in the
database and returns at most a few thousand rows, whatever the number of
sites; Python only folds those groups into fiscal years, organisation types
and survival curves.  See docs/stats.md for the definitions.

Definitions (the seed's tables):
1. reports per month: accepted reports by the local month they were received;
2. reporters: those reports by the reporter's type and domestic/overseas;
3. IP address administrators: sites (not rejected) by the month first
   reported and the type of the organisation holding their IP address;
4. closure per organisation: sites by the time of their first notice;
   time to closure runs from the first "notice.sent" to the first
   "site.down" after it; a site not down yet counts against the closure rate
   and, in the survival curves, as still up when the figures were computed.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, connections
from django.db.models import Max, Min
from django.utils import timezone

from takedown.cases.models import Event, EventKind, Site, SiteState
from takedown.intake.models import Report, Reporter, ReportStatus
from takedown.locate.models import Organization
from takedown.stats import sql
from takedown.stats.calendar import (
    Period,
    closed_weekdays,
    fiscal_year_of_month,
    fiscal_year_period,
    local_tz,
    month_start,
)

REPORTER_KINDS = ["csirt", "security_vendor", "financial", "ecommerce", "other"]
REPORTER_SIDES = ["overseas", "domestic"]
ADMIN_KINDS = ["isp", "company", "school", "overseas", "other"]
UNKNOWN = "unknown"

# Bucket bounds (hours) for time to takedown; a survival curve is read at them.
SURVIVAL_HOURS = [
    1 / 12, 1 / 6, 1 / 3, 0.5, 1, 2, 3, 4, 6, 8, 12, 18, 24, 36, 48, 72, 96, 120, 168,
    240, 336, 504, 720, 1440, 2160,
]  # fmt: skip
# Bucket bounds (hours) for the delay between confirmed down and the reporter told.
FEEDBACK_HOURS = [1 / 60, 5 / 60, 0.25, 0.5, 1, 2, 4, 8, 24, 48, 72, 168]
TOP_ORGS_IN_CURVES = 8
TOP_COUNTRIES = 8
TOP_BRANDS = 30
TOP_REPEATS = 20


def admin_category(kind: str | None, country: str | None) -> str:
    """The seed's administrator type: domestic ISP/company/school, overseas, other."""
    if kind is None:
        return UNKNOWN
    if kind == "overseas" or (country and country.upper() != settings.HOME_COUNTRY):
        return "overseas"
    if kind in {"isp", "company", "school"}:
        return kind
    return "other"


def reporter_side(country: str | None) -> str:
    if not country:
        return UNKNOWN
    return "domestic" if country.upper() == settings.HOME_COUNTRY else "overseas"


def replies_label(rate: float | None) -> str:
    """``yes`` (>= 0.8), ``sometimes`` (>= 0.3), ``rarely`` (> 0), ``no`` (CONTRACT.md)."""
    if not rate:
        return "no"
    if rate >= 0.8:
        return "yes"
    if rate >= 0.3:
        return "sometimes"
    return "rarely"


# --- results ------------------------------------------------------------------


@dataclass
class Spread:
    """Sum, minimum and maximum of a quantity over ``n`` values."""

    n: int = 0
    total: float = 0.0
    low: float | None = None
    high: float | None = None

    def add(self, n: int, total: float | None, low: float | None, high: float | None) -> None:
        if not n or total is None:
            return
        self.n += n
        self.total += float(total)
        self.low = float(low) if self.low is None else min(self.low, float(low))  # type: ignore[arg-type]
        self.high = float(high) if self.high is None else max(self.high, float(high))  # type: ignore[arg-type]

    @property
    def avg(self) -> float | None:
        return self.total / self.n if self.n else None


@dataclass
class OrgClosure:
    """One row of the seed's closure table."""

    org_id: int | None
    name: str
    kind: str | None
    country: str
    months: int
    sites: int = 0
    closed: int = 0
    notices: int = 0
    replied: int = 0
    seconds: Spread = field(default_factory=Spread)
    business_days: Spread = field(default_factory=Spread)

    @property
    def category(self) -> str:
        return admin_category(self.kind, self.country)

    @property
    def reply_rate(self) -> float | None:
        return self.replied / self.notices if self.notices else None

    @property
    def replies(self) -> str:
        return replies_label(self.reply_rate)

    @property
    def closure_rate(self) -> float | None:
        return self.closed / self.sites if self.sites else None

    @property
    def sites_per_month(self) -> float:
        return self.sites / max(self.months, 1)

    def hours(self, which: str) -> float | None:
        value = getattr(self.seconds, which)
        return None if value is None else value / 3600.0

    def days(self, which: str) -> float | None:
        return getattr(self.business_days, which)


@dataclass
class Survival:
    """Share of sites still up ``t`` hours after their first notice.

    Built from bucketed counts with the actuarial life table: a site still up
    when the figures were computed is at risk for half of its last interval.
    """

    key: str
    sites: int
    closed: int
    points: list[tuple[float, float]]  # (hours, share still up)

    @property
    def median_hours(self) -> float | None:
        prev_h, prev_s = 0.0, 1.0
        for hours, share in self.points:
            if share <= 0.5:
                if prev_s == share:
                    return hours
                return prev_h + (hours - prev_h) * (prev_s - 0.5) / (prev_s - share)
            prev_h, prev_s = hours, share
        return None

    def share_up_at(self, hours: float) -> float:
        share = 1.0
        for h, s in self.points:
            if h > hours + 1e-9:
                break
            share = s
        return share


def survival_from_buckets(key: str, closed: list[int], censored: list[int]) -> Survival:
    total = sum(closed) + sum(censored)
    at_risk = float(total)
    share = 1.0
    points: list[tuple[float, float]] = []
    for i, hours in enumerate(SURVIVAL_HOURS):
        exposed = at_risk - censored[i] / 2.0
        if exposed > 0:
            share *= 1.0 - closed[i] / exposed
        points.append((hours, max(share, 0.0)))
        at_risk -= closed[i] + censored[i]
    return Survival(key=key, sites=total, closed=sum(closed), points=points)


@dataclass
class Feedback:
    """Confirmed down (first "site.down") -> reporter told ("reporter.closed_sent")."""

    down: int = 0
    told: int = 0
    seconds: Spread = field(default_factory=Spread)
    buckets: list[int] = field(default_factory=lambda: [0] * (len(FEEDBACK_HOURS) + 1))


@dataclass
class Repeat:
    where: str  # an IP address or a network (a.b.c.0/24)
    sites: int
    addresses: int
    org: str
    first: datetime | None
    last: datetime | None


@dataclass
class Recurrence:
    events_by: dict[str, int] = field(default_factory=dict)  # "site.recurrence" by data.by
    linked_sites: int = 0  # sites with recurrence_of set
    repeated_ips: int = 0  # addresses that hosted more than one site
    sites_on_repeated_ips: int = 0
    top_ips: list[Repeat] = field(default_factory=list)
    top_networks: list[Repeat] = field(default_factory=list)


@dataclass
class Stats:
    period: Period
    fiscal_years: list[Period]
    reports_by_month: dict[str, int]
    sites_by_month: dict[str, int]
    reporters: dict[int, dict[str, dict[str, int]]]
    admins: dict[int, dict[str, int]]
    organizations: list[OrgClosure]
    survival: Survival
    survival_by_type: dict[str, Survival]
    survival_by_country: dict[str, Survival]
    survival_by_org: dict[str, Survival]
    brands: list[tuple[str, int]]
    sites_total: int
    recurrence: Recurrence
    feedback: Feedback

    def fiscal_year(self, year: int) -> Period:
        for p in self.fiscal_years:
            if p.fiscal_year == year:
                return p
        return fiscal_year_period(year, as_of=self.period.as_of)


# --- periods ------------------------------------------------------------------


def data_span() -> tuple[datetime | None, datetime | None]:
    """The first and last instant anything was recorded (reports, sites, events)."""
    firsts: list[datetime] = []
    lasts: list[datetime] = []
    for model, name in ((Report, "received"), (Site, "first_reported"), (Event, "at")):
        # One aggregate per query: SQLite answers a lone MIN or MAX from the
        # index, but scans the table for both at once.
        lo = model.objects.aggregate(v=Min(name))["v"]
        if lo is not None:
            firsts.append(lo)
            lasts.append(model.objects.aggregate(v=Max(name))["v"])
    return (min(firsts) if firsts else None, max(lasts) if lasts else None)


def period_all(*, as_of: datetime | None = None) -> Period:
    as_of = as_of or timezone.now()
    first, _ = data_span()
    start_at = first if first is not None and first < as_of else as_of
    local = timezone.localtime(start_at, local_tz())
    start = month_start(local.year, local.month)
    # Past as_of nothing can have happened yet; the end is the next month's start
    # so that "partial" and the month list behave like a running fiscal year.
    now_local = timezone.localtime(as_of, local_tz())
    return Period(
        start=start,
        end=month_start(now_local.year, now_local.month + 1),
        key="all",
        as_of=as_of,
    )


def fiscal_years_in(period: Period) -> list[Period]:
    first = fiscal_year_of_month(period.first_month)
    last = fiscal_year_of_month(period.last_month)
    return [fiscal_year_period(y, as_of=period.as_of) for y in range(first, last + 1)]


# --- queries ------------------------------------------------------------------


def _rows(query: str, params: Iterable[Any]) -> list[tuple[Any, ...]]:
    # The queries are assembled from table names, constants and the
    # expressions of takedown.stats.sql (which validate what they inline);
    # every value from outside travels as a parameter.
    with connection.cursor() as cursor:
        cursor.execute(query, list(params))
        return list(cursor.fetchall())


def _span_params(period: Period) -> list[Any]:
    return [sql.param_datetime(period.start), sql.param_datetime(period.end)]


def _kind(kind: EventKind) -> str:
    """An event kind as an SQL literal: a constant of ours, inlined (not a parameter)
    so that the planner can match the partial indexes on ``kind``."""
    return "'" + EventKind(kind).value + "'"


def _first_in(events: str, kind: EventKind, whole: bool) -> str:
    """SQL keeping the sites with an event of ``kind`` in the period (parameters: start, end).

    A site whose first event of a kind falls in the period has one in it; for
    a fiscal year this narrows the grouping to the year's sites instead of
    every site there ever was.  Nothing to narrow when the period holds all.
    """
    if whole:
        return "1 = 1"
    if kind not in {EventKind.NOTICE_SENT, EventKind.SITE_DOWN}:  # inlined below
        raise ValueError(kind)
    return (
        f"site_id IN (SELECT site_id FROM {events} "  # noqa: S608 - see _rows
        f"WHERE kind = {_kind(kind)} AND at >= %s AND at < %s)"
    )


def _first_after(
    events: str, kind: EventKind, source: str, after: str, name: str, *more: str
) -> str:
    """The rest of a SELECT over ``source`` adding ``name``: the time of the site's
    first event of ``kind`` at or after ``source.after``.

    SQLite does best with a correlated lookup in the (kind, site_id, at) index
    per row; PostgreSQL with a join it can merge and group (a fifth faster).
    ``more`` names the other columns of ``source`` the SELECT reads.
    """
    if kind not in {EventKind.SITE_DOWN, EventKind.REPORTER_CLOSED_SENT}:  # inlined below
        raise ValueError(kind)
    if sql.is_postgres():
        keys = ", ".join([f"{source}.site_id", f"{source}.{after}", *more])
        return (
            f"MIN(e.at) AS {name} FROM {source} LEFT JOIN {events} e "
            f"ON e.kind = {_kind(kind)} AND e.site_id = {source}.site_id "
            f"AND e.at >= {source}.{after} "
            f"GROUP BY {keys}"
        )
    return (
        f"(SELECT MIN(e.at) FROM {events} e WHERE e.kind = {_kind(kind)} "  # noqa: S608 - see _rows
        f"AND e.site_id = {source}.site_id AND e.at >= {source}.{after}) AS {name} "
        f"FROM {source}"
    )


def _holds_every_row(period: Period, model: Any, field_name: str) -> bool:
    lo = model.objects.aggregate(v=Min(field_name))["v"]
    if lo is None:
        return True
    hi = model.objects.aggregate(v=Max(field_name))["v"]
    return bool(period.start <= lo and hi < period.end)


def _within(col: str, period: Period, model: Any, field_name: str) -> tuple[str, list[Any], bool]:
    """SQL restricting ``col`` to the period, its parameters, and whether it is a no-op.

    When the period holds every row of the table (all time), nothing is
    filtered, so that the database scans the table instead of walking the
    date index row by row (two to four times faster on SQLite).
    """
    if _holds_every_row(period, model, field_name):
        return "1 = 1", [], True
    return f"{col} >= %s AND {col} < %s", _span_params(period), False


def _reports(
    period: Period,
) -> tuple[dict[str, int], dict[str, dict[tuple[str, str], int]]]:
    """Reports by month, and by month and (reporter type, side)."""
    month = sql.local_month("r.received")
    where, params, _ = _within("r.received", period, Report, "received")
    rows = _rows(
        f"""SELECT x.m, p.kind, p.country, SUM(x.n) FROM (
            SELECT {month} AS m, r.reporter_id, COUNT(*) AS n FROM {sql.table(Report)} r
            WHERE r.status = %s AND {where} GROUP BY m, r.reporter_id
        ) x LEFT JOIN {sql.table(Reporter)} p ON p.id = x.reporter_id
        GROUP BY x.m, p.kind, p.country""",  # noqa: S608 - see _rows
        [ReportStatus.ACCEPTED, *params],
    )
    by_month: dict[str, int] = defaultdict(int)
    by_type: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for m, kind, country, count in rows:
        n = int(count)  # PostgreSQL sums to numeric
        by_month[m] += n
        kind = kind if kind in REPORTER_KINDS else "other"
        by_type[m][(kind, reporter_side(country))] += n
    return by_month, by_type


def _sites(
    period: Period,
) -> tuple[dict[str, int], dict[str, dict[str, int]], int]:
    """Sites by month first reported, and by month and administrator type."""
    month = sql.local_month("s.first_reported")
    where, params, _ = _within("s.first_reported", period, Site, "first_reported")
    rows = _rows(
        f"""SELECT x.m, o.kind, o.country, SUM(x.n) FROM (
            SELECT {month} AS m, s.organization_id, COUNT(*) AS n FROM {sql.table(Site)} s
            WHERE s.state <> %s AND {where} GROUP BY m, s.organization_id
        ) x LEFT JOIN {sql.table(Organization)} o ON o.id = x.organization_id
        GROUP BY x.m, o.kind, o.country""",  # noqa: S608 - see _rows
        [SiteState.REJECTED, *params],
    )
    by_month: dict[str, int] = defaultdict(int)
    by_admin: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    total = 0
    for m, kind, country, count in rows:
        n = int(count)  # PostgreSQL sums to numeric
        by_month[m] += n
        by_admin[m][admin_category(kind, country)] += n
        total += n
    return by_month, by_admin, total


def business_number_sql(k: str, first: date, last: date) -> str:
    """SQL numbering business days: for day numbers ``k0 <= k1`` (JDN, see sql.day_number)
    of dates in ``[first, last]``, ``n(k1) - n(k0)`` is ``business_days_after``.

    Weekdays are counted arithmetically from a Monday on or before ``first``;
    the holidays and closed days that fall on weekdays are subtracted with a
    balanced CASE over their day numbers.  No join, no temporary table: it
    costs a few integer operations per row.
    """
    monday = sql.jdn(first - timedelta(days=first.weekday()))
    offset = f"({k} - {monday})"
    # (%% is the modulo operator, doubled because the query has parameters.)
    weekdays = f"(5 * ({offset} / 7) + {sql.least(f'{offset} %% 7 + 1', '5')})"
    holidays = [sql.jdn(d) for d in closed_weekdays(first, last)]
    return f"({weekdays} - {sql.count_below(k, holidays)})"


def _closure_rows(period: Period) -> list[tuple[Any, ...]]:
    """(org_id, closed, bucket, n, sum_s, min_s, max_s, sum_bd, min_bd, max_bd).

    One row per organisation, outcome and time bucket, for the sites whose
    first notice falls in the period.
    """
    E, S = sql.table(Event), sql.table(Site)
    whole = _holds_every_row(period, Event, "at")
    _, last = data_span()
    tz = local_tz()
    first_day = timezone.localtime(period.start, tz).date() - timedelta(days=1)
    last_at = max(period.as_of, last) if last else period.as_of
    last_day = timezone.localtime(last_at, tz).date() + timedelta(days=1)
    bounds = [h * 3600 for h in SURVIVAL_HOURS]
    query = f"""
    WITH fn AS (
        SELECT site_id, MIN(at) AS t0, {sql.first_by_time("organization_id")} AS org
        FROM {E}
        WHERE kind = {_kind(EventKind.NOTICE_SENT)} AND site_id IS NOT NULL
            AND {_first_in(E, EventKind.NOTICE_SENT, whole)}
        GROUP BY site_id HAVING MIN(at) >= %s AND MIN(at) < %s
    ),
    cl AS MATERIALIZED (
        SELECT fn.site_id, fn.t0,
            COALESCE(fn.org, (SELECT s.organization_id FROM {S} s WHERE s.id = fn.site_id))
                AS org_id,
            {_first_after(E, EventKind.SITE_DOWN, "fn", "t0", "t1", "fn.org")}
    ),
    m AS MATERIALIZED (
        SELECT cl.org_id,
            CASE WHEN cl.t1 IS NULL THEN 0 ELSE 1 END AS closed,
            CASE WHEN cl.t1 IS NULL THEN {sql.seconds_until("cl.t0")}
                 ELSE {sql.seconds_between("cl.t0", "cl.t1")} END AS secs,
            {sql.day_number("cl.t0")} AS k0,
            CASE WHEN cl.t1 IS NULL THEN NULL ELSE {sql.day_number("cl.t1")} END AS k1
        FROM cl
    ),
    b AS (
        SELECT org_id, closed, secs,
            {business_number_sql("k1", first_day, last_day)}
            - {business_number_sql("k0", first_day, last_day)} AS bd
        FROM m
    )
    SELECT org_id, closed, {sql.count_below("secs", bounds)} AS b, COUNT(*),
        SUM(secs), MIN(secs), MAX(secs), SUM(bd), MIN(bd), MAX(bd)
    FROM b GROUP BY org_id, closed, b
    """  # noqa: S608 - see _rows
    span = _span_params(period)
    return _rows(query, [*([] if whole else span), *span, sql.param_datetime(period.as_of)])


def _notice_rows(period: Period) -> list[tuple[Any, ...]]:
    """(org_id, notices, replied): notices sent in the period and how many got a reply.

    A notice is one message to one organisation: its "notice.sent" events
    (one per site it names) share the organisation and the time it left, so
    a notice is counted as a distinct (organisation, time) without reading
    the events' JSON.  A "notice.replied" event names the thread
    (``data.notice``) and the message answered (``data.message``); a notice
    counts as replied when either is its ``data.notice`` (looked up through
    the index ``stats_event_notice``).  Replies marked ``"human": false`` do
    not count (the notices app records auto-replies as "notice.auto_reply").
    """
    E = sql.table(Event)
    nid = sql.json_key("data", "notice")
    human = sql.json_not_false("data", "human")
    replied_kind = _kind(EventKind.NOTICE_REPLIED)
    replied = f"""SELECT {nid} FROM {E} WHERE kind = {replied_kind} AND {human}
        UNION SELECT {sql.json_key("data", "message")} FROM {E}
        WHERE kind = {replied_kind} AND {human}"""  # noqa: S608 - see _rows

    # All time: no date filter, so that the (kind, site_id, at, organization_id)
    # index answers alone.
    where, params, _ = _within("at", period, Event, "at")

    def per_org(extra: str) -> dict[Any, int]:
        rows = _rows(
            f"""SELECT org, COUNT(*) FROM (
                SELECT organization_id AS org, at FROM {E}
                WHERE kind = {_kind(EventKind.NOTICE_SENT)} AND {where} {extra}
                GROUP BY organization_id, at
            ) x GROUP BY org""",  # noqa: S608 - see _rows
            params,
        )
        return {org: int(n) for org, n in rows}

    sent = per_org("")
    answered = per_org(f"AND {nid} IN ({replied})")
    return [(org, n, answered.get(org, 0)) for org, n in sent.items()]


def _organizations(
    period: Period,
) -> tuple[
    list[OrgClosure], dict[str, Survival], dict[str, Survival], dict[str, Survival], Survival
]:
    closure = _closure_rows(period)
    notices = _notice_rows(period)
    org_ids = {r[0] for r in closure if r[0] is not None} | {
        r[0] for r in notices if r[0] is not None
    }
    orgs = {
        o["pk"]: o
        for o in Organization.objects.filter(pk__in=org_ids).values("pk", "name", "kind", "country")
    }

    def make(org_id: int | None) -> OrgClosure:
        o = orgs.get(org_id) if org_id is not None else None
        return OrgClosure(
            org_id=org_id,
            name=o["name"] if o else "",
            kind=o["kind"] if o else None,
            country=(o["country"] or "") if o else "",
            months=period.months,
        )

    table: dict[int | None, OrgClosure] = {}
    nb = len(SURVIVAL_HOURS) + 1

    def empty() -> tuple[list[int], list[int]]:
        return [0] * nb, [0] * nb

    overall = empty()
    by_org: dict[int | None, tuple[list[int], list[int]]] = defaultdict(empty)
    for org_id, closed, b, n, s_sum, s_min, s_max, d_sum, d_min, d_max in closure:
        row = table.get(org_id) or table.setdefault(org_id, make(org_id))
        row.sites += n
        curve = by_org[org_id]
        if closed:
            row.closed += n
            row.seconds.add(n, s_sum, s_min, s_max)
            row.business_days.add(n, d_sum, d_min, d_max)
            curve[0][b] += n
            overall[0][b] += n
        else:
            curve[1][b] += n
            overall[1][b] += n
    for org_id, n_notices, n_replied in notices:
        if org_id in table:
            table[org_id].notices += n_notices
            table[org_id].replied += n_replied

    rows = sorted(table.values(), key=lambda r: (-r.sites, r.name, r.org_id or 0))

    def fold(key_of: Any) -> dict[str, tuple[list[int], list[int]]]:
        out: dict[str, tuple[list[int], list[int]]] = defaultdict(empty)
        for org_id, (c, x) in by_org.items():
            key = key_of(table[org_id])
            for i in range(nb):
                out[key][0][i] += c[i]
                out[key][1][i] += x[i]
        return out

    by_type = fold(lambda r: r.category)
    by_country = fold(lambda r: (r.country or "").upper() or UNKNOWN)
    biggest = sorted(by_country, key=lambda k: -sum(by_country[k][0]) - sum(by_country[k][1]))
    survival_by_type = {
        k: survival_from_buckets(k, *by_type[k]) for k in [*ADMIN_KINDS, UNKNOWN] if k in by_type
    }
    survival_by_country = {
        k: survival_from_buckets(k, *by_country[k]) for k in biggest[:TOP_COUNTRIES]
    }
    survival_by_org = {
        (r.name or UNKNOWN): survival_from_buckets(r.name or UNKNOWN, *by_org[r.org_id])
        for r in rows[:TOP_ORGS_IN_CURVES]
    }
    return (
        rows,
        survival_by_type,
        survival_by_country,
        survival_by_org,
        survival_from_buckets("all", *overall),
    )


def _brands(period: Period) -> list[tuple[str, int]]:
    where, params, _ = _within("s.first_reported", period, Site, "first_reported")
    rows = _rows(
        f"""SELECT s.brand, COUNT(*) AS n FROM {sql.table(Site)} s
        WHERE s.state <> %s AND {where}
        GROUP BY s.brand ORDER BY n DESC, s.brand LIMIT {TOP_BRANDS}""",  # noqa: S608 - see _rows
        [SiteState.REJECTED, *params],
    )
    return [(brand or "", n) for brand, n in rows]


def _repeats(period: Period, group_sql: str, limit: int | None) -> list[tuple[Any, ...]]:
    """(where, sites, addresses, org_id, first, last) for groups holding more than one site."""
    where, params, whole = _within("s.first_reported", period, Site, "first_reported")
    return _rows(
        f"""SELECT {group_sql} AS w, COUNT(*) AS n, COUNT(DISTINCT s.ip),
            MAX(s.organization_id), MIN(s.first_reported), MAX(s.first_reported)
        FROM {sql.table(Site)} s {sql.scan_hint() if whole else ""}
        WHERE s.ip IS NOT NULL AND s.state <> %s AND {where}
        GROUP BY w HAVING COUNT(*) > 1
        {f"ORDER BY n DESC, w LIMIT {int(limit)}" if limit else ""}""",  # noqa: S608 - see _rows
        [SiteState.REJECTED, *params],
    )


def _repeat_objects(rows: list[tuple[Any, ...]], label: Any = str) -> list[Repeat]:
    names = dict(
        Organization.objects.filter(pk__in=[r[3] for r in rows if r[3]]).values_list("pk", "name")
    )
    conv = _datetime_converter()
    return [
        Repeat(
            where=label(str(w)),
            sites=n,
            addresses=k,
            org=names.get(org_id, ""),
            first=conv(lo),
            last=conv(hi),
        )
        for w, n, k, org_id, lo, hi in rows
    ]


def _datetime_converter() -> Any:
    """Raw SQLite rows carry datetimes as UTC text; PostgreSQL gives datetimes."""

    def conv(value: Any) -> datetime | None:
        if value is None or isinstance(value, datetime):
            return value
        parsed = datetime.fromisoformat(str(value))
        return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)

    return conv


def _recurrence(period: Period) -> Recurrence:
    E, S = sql.table(Event), sql.table(Site)
    out = Recurrence()
    for by, n in _rows(
        f"""SELECT {sql.json_text("data", "by")} AS b, COUNT(*) FROM {E}
        WHERE kind = {_kind(EventKind.SITE_RECURRENCE)} AND at >= %s AND at < %s
        GROUP BY b""",  # noqa: S608 - see _rows
        _span_params(period),
    ):
        out.events_by[by or UNKNOWN] = n
    where, params, _ = _within("s.first_reported", period, Site, "first_reported")
    ((linked,),) = _rows(
        f"""SELECT COUNT(*) FROM {S} s WHERE s.recurrence_of_id IS NOT NULL AND {where}""",  # noqa: S608 - see _rows
        params,
    )
    out.linked_sites = linked
    # Every repeated address comes back (one pass, no second query for the
    # totals); they are few next to the sites, since each holds two or more.
    ips = _repeats(period, "host(s.ip)" if sql.is_postgres() else "s.ip", None)
    out.repeated_ips = len(ips)
    out.sites_on_repeated_ips = sum(r[1] for r in ips)
    out.top_ips = _repeat_objects(sorted(ips, key=lambda r: (-r[1], str(r[0])))[:TOP_REPEATS])
    out.top_networks = _repeat_objects(
        _repeats(period, sql.ipv4_network("s.ip"), TOP_REPEATS), _network_label
    )
    return out


def _network_label(prefix: str) -> str:
    if prefix.count(".") == 3:  # "a.b.c." from an IPv4 address
        return f"{prefix}0/24"
    return f"{prefix}/112" if ":" in prefix else prefix


def _feedback(period: Period) -> Feedback:
    E = sql.table(Event)
    whole = _holds_every_row(period, Event, "at")
    bounds = [h * 3600 for h in FEEDBACK_HOURS]
    query = f"""
    WITH fd AS (
        SELECT site_id, MIN(at) AS td FROM {E}
        WHERE kind = {_kind(EventKind.SITE_DOWN)} AND site_id IS NOT NULL
            AND {_first_in(E, EventKind.SITE_DOWN, whole)}
        GROUP BY site_id HAVING MIN(at) >= %s AND MIN(at) < %s
    ),
    fb AS MATERIALIZED (
        SELECT fd.td,
            {_first_after(E, EventKind.REPORTER_CLOSED_SENT, "fd", "td", "tc")}
    ),
    m AS (SELECT CASE WHEN tc IS NULL THEN NULL ELSE {sql.seconds_between("td", "tc")} END AS secs
          FROM fb)
    SELECT CASE WHEN secs IS NULL THEN -1 ELSE {sql.count_below("secs", bounds)} END AS b,
        COUNT(*), SUM(secs), MIN(secs), MAX(secs)
    FROM m GROUP BY b
    """  # noqa: S608 - see _rows
    out = Feedback()
    span = _span_params(period)
    for b, n, s_sum, s_min, s_max in _rows(query, [*([] if whole else span), *span]):
        out.down += n
        if b >= 0:
            out.told += n
            out.buckets[b] += n
            out.seconds.add(n, s_sum, s_min, s_max)
    return out


def _run_all(tasks: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run independent queries side by side, each thread on its own connection.

    SQLite (WAL) and PostgreSQL both serve concurrent readers, and the
    drivers release the GIL while the database works.  Inside a transaction
    (the tests, a caller's atomic block) other connections would not see its
    rows, so the queries then run one after the other on this connection.
    """
    workers = min(settings.STATS_WORKERS, len(tasks))
    if workers <= 1 or connection.in_atomic_block:
        return {name: task() for name, task in tasks.items()}

    def run(task: Callable[[], Any]) -> Any:
        try:
            return task()
        finally:
            connections.close_all()  # this thread's connections only

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stats") as pool:
        futures = {name: pool.submit(run, task) for name, task in tasks.items()}
        return {name: future.result() for name, future in futures.items()}


def stats_compute(period: Period) -> Stats:
    """All the statistics for ``period``."""
    # The slowest first, so that the others fill the gaps.
    results = _run_all(
        {
            "organizations": lambda: _organizations(period),
            "feedback": lambda: _feedback(period),
            "recurrence": lambda: _recurrence(period),
            "reports": lambda: _reports(period),
            "sites": lambda: _sites(period),
            "brands": lambda: _brands(period),
        }
    )
    reports_by_month, reporters_by_month = results["reports"]
    sites_by_month, admins_by_month, sites_total = results["sites"]
    months = period.month_keys
    fiscal_years = fiscal_years_in(period)

    reporters: dict[int, dict[str, dict[str, int]]] = {}
    admins: dict[int, dict[str, int]] = {}
    for fy in fiscal_years:
        assert fy.fiscal_year is not None
        reporters[fy.fiscal_year] = {k: dict.fromkeys(REPORTER_SIDES, 0) for k in REPORTER_KINDS}
        admins[fy.fiscal_year] = dict.fromkeys(ADMIN_KINDS, 0)
    for m, counts in reporters_by_month.items():
        year_r = reporters.setdefault(
            fiscal_year_of_month(m),
            {k: dict.fromkeys(REPORTER_SIDES, 0) for k in REPORTER_KINDS},
        )
        for (kind, side), n in counts.items():
            year_r[kind][side] = year_r[kind].get(side, 0) + n
    for m, cats in admins_by_month.items():
        year_a = admins.setdefault(fiscal_year_of_month(m), dict.fromkeys(ADMIN_KINDS, 0))
        for cat, n in cats.items():
            year_a[cat] = year_a.get(cat, 0) + n

    orgs, by_type, by_country, by_org, overall = results["organizations"]
    return Stats(
        period=period,
        fiscal_years=fiscal_years,
        reports_by_month={m: reports_by_month.get(m, 0) for m in months},
        sites_by_month={m: sites_by_month.get(m, 0) for m in months},
        reporters=reporters,
        admins=admins,
        organizations=orgs,
        survival=overall,
        survival_by_type=by_type,
        survival_by_country=by_country,
        survival_by_org=by_org,
        brands=results["brands"],
        sites_total=sites_total,
        recurrence=results["recurrence"],
        feedback=results["feedback"],
    )


# --- the contract's JSON ----------------------------------------------------------


def _r(value: float | None, digits: int = 2) -> float | None:
    if value is None or math.isnan(value):
        return None
    return round(value, digits)


def _fy_key(year: int) -> str:
    return f"FY{year}"


def stats_as_json(stats: Stats) -> dict[str, Any]:
    """The shape of ``takedown stats --format json`` (CONTRACT.md), plus extra keys."""
    reporters: dict[str, Any] = {}
    for year, kinds in sorted(stats.reporters.items()):
        reporters[_fy_key(year)] = {
            kind: {side: n for side, n in sides.items() if side in REPORTER_SIDES or n}
            for kind, sides in kinds.items()
        }
    admins = {
        _fy_key(year): {k: n for k, n in cats.items() if k in ADMIN_KINDS or n}
        for year, cats in sorted(stats.admins.items())
    }
    organizations = []
    for o in stats.organizations:
        organizations.append(
            {
                "org": o.name or UNKNOWN,
                "replies": o.replies,
                "reply_rate": _r(o.reply_rate, 3),
                # Four decimals: a sandbox run's closures take seconds.
                "closure_hours": {
                    "avg": _r(o.hours("avg"), 4),
                    "min": _r(o.hours("low"), 4),
                    "max": _r(o.hours("high"), 4),
                },
                "closure_business_days": {
                    "avg": _r(o.days("avg")),
                    "min": _r(o.days("low")),
                    "max": _r(o.days("high")),
                },
                "sites_per_month": _r(o.sites_per_month),
                "closure_rate": _r(o.closure_rate, 3),
                "notices": o.notices,
                "sites": o.sites,
                "closed": o.closed,
                "replied": o.replied,
                "kind": o.kind,
                "country": o.country,
                "type": o.category,
            }
        )

    def curve(s: Survival) -> dict[str, Any]:
        return {
            "sites": s.sites,
            "closed": s.closed,
            "median_hours": _r(s.median_hours, 4),
            "points": [[_r(h, 3), _r(v, 4)] for h, v in s.points],
        }

    fb = stats.feedback
    rec = stats.recurrence
    period = stats.period
    return {
        "reports_by_month": stats.reports_by_month,
        "reporters": reporters,
        "admins": admins,
        "organizations": organizations,
        "period": {
            "key": period.key,
            "label": period.label(),
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "as_of": period.as_of.isoformat(),
            "partial": period.partial,
        },
        "fiscal_years": {
            _fy_key(p.fiscal_year): {"label": p.label(), "partial": p.partial, "months": p.months}
            for p in stats.fiscal_years
            if p.fiscal_year is not None
        },
        "sites_by_month": stats.sites_by_month,
        "survival": {
            "all": curve(stats.survival),
            "by_type": {k: curve(v) for k, v in stats.survival_by_type.items()},
            "by_country": {k: curve(v) for k, v in stats.survival_by_country.items()},
        },
        "brands": [{"brand": b, "sites": n} for b, n in stats.brands[:TOP_BRANDS]],
        "recurrence": {
            "events_by": rec.events_by,
            "linked_sites": rec.linked_sites,
            "repeated_ips": rec.repeated_ips,
            "sites_on_repeated_ips": rec.sites_on_repeated_ips,
            "top_ips": [{"ip": r.where, "sites": r.sites, "org": r.org} for r in rec.top_ips],
            "top_networks": [
                {"network": r.where, "sites": r.sites, "addresses": r.addresses, "org": r.org}
                for r in rec.top_networks
            ],
        },
        "feedback": {
            "down": fb.down,
            "told": fb.told,
            "hours": {
                "avg": _r(_h(fb.seconds.avg), 4),
                "min": _r(_h(fb.seconds.low), 4),
                "max": _r(_h(fb.seconds.high), 4),
            },
        },
    }


def _h(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 3600.0


# --- entry points ------------------------------------------------------------------


def stats_period(
    *, fy: int | None = None, month: tuple[int, int] | None = None, as_of: datetime | None = None
) -> Period:
    """The period of a request: one fiscal year, one month, or everything (neither)."""
    from takedown.stats.calendar import month_period

    if fy is not None and month is not None:
        raise ValueError("give a fiscal year or a month, not both")
    if fy is not None:
        return fiscal_year_period(fy, as_of=as_of)
    if month is not None:
        return month_period(*month, as_of=as_of)
    return period_all(as_of=as_of)


def _data_version() -> tuple[Any, ...]:
    return (
        Event.objects.aggregate(m=Max("id"))["m"],
        Report.objects.aggregate(m=Max("id"))["m"],
        Organization.objects.aggregate(m=Max("id"))["m"],
    )


# Unchanged data is still recomputed after this long (an organisation's type
# edited by a handler changes no id).
CACHE_MAX_AGE = 3600
# Staleness allowed after a change, as a multiple of what a computation costs:
# recomputing then takes at most ~5% of the time, however big the history.
CACHE_COST_FACTOR = 20
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def stats_get(
    *, fy: int | None = None, month: tuple[int, int] | None = None, use_cache: bool = True
) -> Stats:
    """The statistics as of now, from the cache when that is fresh enough.

    A cached result is used while nothing was recorded since (the newest
    event, report and organisation ids are unchanged; at most an hour), and
    after a change for a while proportional to what computing costs, capped
    by ``STATS_CACHE_SECONDS``: a small deployment sees a new event at once,
    one with a million sites recomputes at most every few minutes.  One
    computation per period at a time: the page and its eight charts wait for
    the same one.
    """
    from django.core.cache import cache

    period = stats_period(fy=fy, month=month)
    if not use_cache:
        return stats_compute(period)
    key = f"takedown-stats:{period.key}:{settings.TIME_ZONE}"
    version = _data_version()

    def fresh(entry: Any) -> bool:
        if not isinstance(entry, dict) or not isinstance(entry.get("stats"), Stats):
            return False
        age = time.time() - entry["at"]
        if entry["version"] == version:
            return age < CACHE_MAX_AGE
        return age < min(settings.STATS_CACHE_SECONDS, CACHE_COST_FACTOR * entry["cost"])

    entry = cache.get(key)
    if fresh(entry):
        return entry["stats"]
    with _lock_for(key):
        entry = cache.get(key)
        if fresh(entry):
            return entry["stats"]
        started = time.time()
        stats = stats_compute(period)
        cache.set(
            key,
            {"stats": stats, "version": version, "at": time.time(), "cost": time.time() - started},
            CACHE_MAX_AGE,
        )
        return stats
