"""The few SQL expressions that differ between SQLite and PostgreSQL.

The statistics aggregate in the database (a million sites must not travel to
Python), so they need local dates and months, durations and JSON keys in SQL.
PostgreSQL converts time zones itself; SQLite has no time zones, so the
local date there is the UTC time shifted by the zone's offset, which for a
zone with daylight saving time is a CASE over the zone's transitions (for
Asia/Tokyo, which has had none since 1951, a constant).
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils import timezone

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_+\-/]+$")
_SAFE_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
# Transitions are looked up in this range; data outside it uses the nearest offset.
_TRANSITIONS_FROM = 1990
_TRANSITIONS_TO = 2045


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def tz_name() -> str:
    name = str(timezone.get_default_timezone_name())
    if not _SAFE_NAME.match(name):  # it is inlined in SQL
        raise ValueError(f"unexpected time zone name {name!r}")
    return name


def _ident(col: str) -> str:
    if not _SAFE_IDENT.match(col):
        raise ValueError(f"not a column reference: {col!r}")
    return col


@functools.lru_cache(maxsize=8)
def _offsets(name: str) -> tuple[int, tuple[tuple[str, int], ...]]:
    """(offset before the first transition, ((utc_text, offset_after), ...)) in seconds."""
    zone = ZoneInfo(name)

    def offset(moment: datetime) -> int:
        delta = moment.astimezone(zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    moment = datetime(_TRANSITIONS_FROM, 1, 1, tzinfo=UTC)
    end = datetime(_TRANSITIONS_TO, 1, 1, tzinfo=UTC)
    first = current = offset(moment)
    changes: list[tuple[str, int]] = []
    step = timedelta(days=1)
    while moment < end:
        nxt = moment + step
        if offset(nxt) != current:
            # Narrow the change down to the second.
            lo, hi = moment, nxt
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if offset(mid) == current:
                    lo = mid
                else:
                    hi = mid
            current = offset(nxt)
            changes.append((hi.strftime("%Y-%m-%d %H:%M:%S"), current))
        moment = nxt
    return first, tuple(changes)


def _sqlite_shift(col: str) -> str:
    """A SQLite date/time modifier that turns UTC ``col`` into local time."""
    first, changes = _offsets(tz_name())
    if not changes:
        return f"'{first:+d} seconds'"
    parts = [f"WHEN {col} < '{at}' THEN {prev}" for at, prev in _pairs(first, changes)]
    return f"(CASE {' '.join(parts)} ELSE {changes[-1][1]} END || ' seconds')"


def _pairs(first: int, changes: tuple[tuple[str, int], ...]) -> list[tuple[str, int]]:
    out = []
    prev = first
    for at, after in changes:
        out.append((at, prev))
        prev = after
    return out


def local_date(col: str) -> str:
    """SQL for the local calendar date of a datetime column (text on SQLite, date on PG)."""
    col = _ident(col)
    if is_postgres():
        return f"(({col}) AT TIME ZONE '{tz_name()}')::date"
    return f"date({col}, {_sqlite_shift(col)})"


JDN_2000_01_01 = 2451545  # the Julian Day Number of 2000-01-01, a Saturday


def day_number(col: str) -> str:
    """SQL for the Julian Day Number (an integer) of the local date of a datetime column."""
    col = _ident(col)
    if is_postgres():
        return f"({local_date(col)} - DATE '2000-01-01' + {JDN_2000_01_01})"
    # julianday() counts from noon; +0.5 moves the day change to local midnight.
    return f"CAST(julianday({col}, {_sqlite_shift(col)}) + 0.5 AS INTEGER)"


def jdn(day: date) -> int:
    return day.toordinal() - date(2000, 1, 1).toordinal() + JDN_2000_01_01


def least(a: str, b: str) -> str:
    return f"LEAST({a}, {b})" if is_postgres() else f"min({a}, {b})"


def count_below(expr: str, sorted_values: list[Any], offset: int = 0) -> str:
    """SQL for how many of ``sorted_values`` are <= ``expr``: a balanced CASE tree."""
    if not sorted_values:
        return str(offset)
    if len(sorted_values) <= 4:
        whens = " ".join(
            f"WHEN {expr} < {v} THEN {offset + i}" for i, v in enumerate(sorted_values)
        )
        return f"(CASE {whens} ELSE {offset + len(sorted_values)} END)"
    mid = len(sorted_values) // 2
    low = count_below(expr, sorted_values[:mid], offset)
    high = count_below(expr, sorted_values[mid:], offset + mid)
    return f"(CASE WHEN {expr} < {sorted_values[mid]} THEN {low} ELSE {high} END)"


def local_month(col: str) -> str:
    """SQL for ``YYYY-MM`` of a datetime column in local time."""
    col = _ident(col)
    if is_postgres():
        return f"to_char(({col}) AT TIME ZONE '{tz_name()}', 'YYYY-MM')"
    return f"strftime('%%Y-%%m', {col}, {_sqlite_shift(col)})"


def seconds_between(start: str, end: str) -> str:
    start, end = _ident(start), _ident(end)
    if is_postgres():
        # EXTRACT gives numeric, whose arithmetic is ten times slower than float.
        return f"EXTRACT(EPOCH FROM ({end} - {start}))::float8"
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


def seconds_until(start: str, param: str = "%s") -> str:
    """Seconds from column ``start`` to a datetime parameter."""
    start = _ident(start)
    if is_postgres():
        return f"EXTRACT(EPOCH FROM ({param}::timestamptz - {start}))::float8"
    return f"((julianday({param}) - julianday({start})) * 86400.0)"


def json_text(col: str, key: str) -> str:
    """SQL for ``col[key]`` as text (NULL when absent)."""
    if is_postgres():
        return json_key(col, key)
    return f"CAST({json_key(col, key)} AS TEXT)"


def json_key(col: str, key: str) -> str:
    """SQL for ``col[key]`` as the expression index ``stats_event_notice`` spells it.

    Text on PostgreSQL, the JSON value (an integer for ids) on SQLite: compare
    it only with the same expression.
    """
    col = _ident(col)
    if not key.isidentifier():
        raise ValueError(f"bad JSON key {key!r}")
    if is_postgres():
        return f"({col} ->> '{key}')"
    return f"json_extract({col}, '$.{key}')"


def json_not_false(col: str, key: str) -> str:
    """SQL that is true unless ``col[key]`` is JSON ``false``."""
    col = _ident(col)
    if not key.isidentifier():
        raise ValueError(f"bad JSON key {key!r}")
    if is_postgres():
        return f"COALESCE({col} -> '{key}' <> 'false'::jsonb, TRUE)"
    return f"COALESCE(json_extract({col}, '$.{key}') <> 0, 1)"


def ipv4_network(col: str) -> str:
    """The /24 of an IPv4 address as ``a.b.c.`` (the last group stripped for IPv6)."""
    col = _ident(col)
    text = f"host({col})" if is_postgres() else col
    return f"rtrim({text}, '0123456789abcdef')"


def first_by_time(col: str) -> str:
    """Aggregate SQL for ``col`` of the earliest row of a group that also selects MIN(at).

    SQLite gives a bare column the values of the row where the query's only
    MIN() was found (documented); PostgreSQL needs it spelled out.
    """
    col = _ident(col)
    if is_postgres():
        # By time alone: (kind, site_id, at, organization_id) then covers it.
        return f"(array_agg({col} ORDER BY at))[1]"
    return col


def scan_hint() -> str:
    """Tells SQLite to scan a table rather than walk an index row by row (no-op on PG).

    SQLite picks the index on ``ip`` for GROUP BY ip to avoid a sort, then
    looks each row up: four times slower than a scan and a sort.
    """
    return "" if is_postgres() else "NOT INDEXED"


def param_datetime(value: datetime) -> Any:
    """A datetime as the backend expects it in raw SQL (UTC text on SQLite)."""
    return connection.ops.adapt_datetimefield_value(value)


def table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)
