"""Fast multi-row INSERT and UPDATE for the bulk paths (CSV import, the monitor's checks).

Django's ``bulk_create`` builds a model instance and compiles every value of
every row, and ``bulk_update`` a CASE expression per row and field; at
thousands of rows a second that overhead is most of the cost.  These helpers
prepare values with the same field adapters Django uses (``get_db_prep_save``)
only where the database form differs, and hand one statement with
placeholders to the driver: ``executemany`` (one prepared statement, many
rows) or, where the new ids are needed, one multi-row ``INSERT ... RETURNING``.
The database sees the same data it would from the ORM.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, models

# Rows per multi-row INSERT ... RETURNING: well under SQLite's 32,766 variables.
RETURNING_CHUNK = 500


def _columns(
    model: type[models.Model], field_names: Sequence[str]
) -> tuple[list[str], list[Callable[[Any], Any] | None]]:
    conn = connections[DEFAULT_DB_ALIAS]
    fields = [model._meta.get_field(name) for name in field_names]
    columns = [str(f.column) for f in fields]  # type: ignore[union-attr]
    return columns, [_adapter(f, conn) for f in fields]


def _adapter(field: Any, conn: Any) -> Callable[[Any], Any] | None:
    """How a value of ``field`` goes to the driver; None: as it is.

    Text, numbers, booleans and foreign-key ids go as they are.  Datetimes
    and JSON on SQLite are written in Django's own forms (naive UTC text,
    ``json.dumps``) directly, which is what ``get_db_prep_save`` ends in after
    several calls a value (a third of an import's time); PostgreSQL's driver
    takes aware datetimes as they are.  Anything else that needs adapting
    (JSON on PostgreSQL, addresses) goes through Django's adapter.
    """
    sqlite = conn.vendor == "sqlite"
    if isinstance(field, models.DateTimeField):
        if sqlite and settings.USE_TZ:
            return _sqlite_datetime
        if conn.vendor == "postgresql" and settings.USE_TZ:
            return _aware
    elif isinstance(field, models.JSONField):
        if sqlite and field.encoder is None:
            return _json_text
    elif not isinstance(field, models.GenericIPAddressField):
        return None
    return lambda value, f=field: f.get_db_prep_save(value, conn)  # type: ignore[misc]


def _sqlite_datetime(value: Any) -> Any:
    if value is None or not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} (USE_TZ is on)")
    # Django's SQLite form: naive UTC, "YYYY-MM-DD HH:MM:SS[.ffffff]".
    return str(value.astimezone(UTC).replace(tzinfo=None))


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} (USE_TZ is on)")
    return value


def _json_text(value: Any) -> Any:
    # JSONField stores SQL NULL for None (null=True) and the JSON text otherwise.
    return None if value is None else json.dumps(value)


def _prepare(
    preps: list[Callable[[Any], Any] | None], rows: Iterable[Sequence[Any]]
) -> list[tuple[Any, ...]]:
    return [
        tuple(v if p is None else p(v) for p, v in zip(preps, row, strict=True)) for row in rows
    ]


def insert_rows(
    model: type[models.Model], field_names: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert ``rows`` (tuples in ``field_names`` order) into ``model``'s table."""
    columns, preps = _columns(model, field_names)
    prepared = _prepare(preps, rows)
    if not prepared:
        return 0
    conn = connections[DEFAULT_DB_ALIAS]
    quote = conn.ops.quote_name
    # Only identifiers from the model's metadata, quoted by the backend, are
    # formatted into the statement; every value goes through a placeholder.
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        quote(model._meta.db_table),
        ", ".join(quote(c) for c in columns),
        ", ".join(["%s"] * len(columns)),
    )
    with conn.cursor() as cursor:
        cursor.executemany(sql, prepared)
    return len(prepared)


def insert_rows_returning_ids(
    model: type[models.Model], field_names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[int]:
    """Insert ``rows`` and return their new primary keys, in the order of ``rows``.

    One ``INSERT ... VALUES (...), (...) RETURNING id`` per chunk: SQLite
    (3.35+) and PostgreSQL return the rows in the order of the VALUES list,
    which Django's own ``bulk_create`` relies on too.
    """
    columns, preps = _columns(model, field_names)
    conn = connections[DEFAULT_DB_ALIAS]
    quote = conn.ops.quote_name
    pk = model._meta.pk
    assert pk is not None
    one = "({})".format(", ".join(["%s"] * len(columns)))
    ids: list[int] = []
    with conn.cursor() as cursor:
        for start in range(0, len(rows), RETURNING_CHUNK):
            chunk = _prepare(preps, rows[start : start + RETURNING_CHUNK])
            sql = "INSERT INTO {} ({}) VALUES {} RETURNING {}".format(  # noqa: S608
                quote(model._meta.db_table),
                ", ".join(quote(c) for c in columns),
                ", ".join([one] * len(chunk)),
                quote(str(pk.column)),
            )
            cursor.execute(sql, [value for row in chunk for value in row])
            ids.extend(int(row[0]) for row in cursor.fetchall())
    return ids


def update_rows(
    model: type[models.Model],
    field_names: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    increment: Sequence[str] = (),
) -> int:
    """``UPDATE ... SET f = %s, ... WHERE pk = %s`` for many rows, in one executemany.

    Each row is the values of ``field_names`` followed by the primary key.
    Fields named in ``increment`` are not values but added to: ``count =
    count + %s`` (so two writers never lose each other's increments).
    """
    columns, preps = _columns(model, field_names)
    prepared = _prepare([*preps, None], rows)
    if not prepared:
        return 0
    conn = connections[DEFAULT_DB_ALIAS]
    quote = conn.ops.quote_name
    pk = model._meta.pk
    assert pk is not None
    sets = [
        f"{quote(c)} = {quote(c)} + %s" if name in increment else f"{quote(c)} = %s"
        for name, c in zip(field_names, columns, strict=True)
    ]
    sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608 - names from model metadata
        quote(model._meta.db_table), ", ".join(sets), quote(str(pk.column))
    )
    with conn.cursor() as cursor:
        cursor.executemany(sql, prepared)
    return len(prepared)
