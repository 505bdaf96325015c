"""Indexes the statistics queries need on the timeline (docs/stats.md).

They live on ``cases_event`` but are created here, by the app that needs
them, in plain SQL, so the cases app's model state is untouched.

- ``stats_event_kind_site_at`` ``(kind, site_id, at, organization_id)``: "first
  notice per site, and to whom" and "first confirmed-down check after it" are
  read from the index alone: the rows of one kind come grouped by site and
  ordered by time.
- ``stats_event_notice``: the notice id of each "notice.sent" event (a key of
  its JSON data), partial to that kind, so that counting notices per
  organisation does not parse the JSON of every event.
"""

from typing import Any

from django.db import migrations

KIND_SITE_AT = (
    "CREATE INDEX IF NOT EXISTS stats_event_kind_site_at "
    "ON cases_event (kind, site_id, at, organization_id)"
)
NOTICE = {
    "sqlite": (
        "CREATE INDEX IF NOT EXISTS stats_event_notice ON cases_event "
        "(json_extract(data, '$.notice'), organization_id, at) WHERE kind = 'notice.sent'"
    ),
    "postgresql": (
        "CREATE INDEX IF NOT EXISTS stats_event_notice ON cases_event "
        "((data ->> 'notice'), organization_id, at) WHERE kind = 'notice.sent'"
    ),
}


def create(apps: Any, schema_editor: Any) -> None:
    schema_editor.execute(KIND_SITE_AT)
    sql = NOTICE.get(schema_editor.connection.vendor)
    if sql:
        schema_editor.execute(sql)


def drop(apps: Any, schema_editor: Any) -> None:
    schema_editor.execute("DROP INDEX IF EXISTS stats_event_notice")
    schema_editor.execute("DROP INDEX IF EXISTS stats_event_kind_site_at")


class Migration(migrations.Migration):
    dependencies = [("cases", "0002_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
