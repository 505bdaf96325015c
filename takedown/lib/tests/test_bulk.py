"""The bulk paths write what the ORM would: rows read back equal, on either database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection

from takedown.cases.models import Event, EventKind, Site
from takedown.lib import bulk

pytestmark = pytest.mark.django_db


def test_its_adapters_give_what_django_gives() -> None:
    at = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=9)))
    values = [("at", at), ("at", at.replace(microsecond=0)), ("data", {"u": "x", "n": [1, "ü"]})]
    for name, value in values:
        field = Event._meta.get_field(name)
        adapt = bulk._adapter(field, connection)
        ours = value if adapt is None else adapt(value)
        theirs = field.get_db_prep_save(value, connection)  # type: ignore[union-attr]
        if connection.vendor == "sqlite":
            assert ours == theirs
        else:
            # PostgreSQL's driver takes aware datetimes; JSON goes through Django's adapter.
            assert ours == value or type(ours) is type(theirs)


def test_it_inserts_updates_and_returns_ids_in_order() -> None:
    site = Site.objects.create(url="http://bulk.example/", host="bulk.example")
    at = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    ids = bulk.insert_rows_returning_ids(
        Event,
        ["kind", "site", "at", "data", "message", "actor", "from_state", "to_state"],
        [(EventKind.SITE_STATE, site.pk, at + timedelta(minutes=i), {"i": i}, f"m{i}", "t", "", "")
         for i in range(700)],
    )  # fmt: skip
    assert len(ids) == 700
    rows = dict(Event.objects.filter(pk__in=ids).values_list("pk", "data"))
    assert [rows[pk]["i"] for pk in ids] == list(range(700))
    assert Event.objects.get(pk=ids[5]).at == at + timedelta(minutes=5)
    bulk.update_rows(Event, ["message"], [("changed", ids[0])])
    assert Event.objects.get(pk=ids[0]).message == "changed"
