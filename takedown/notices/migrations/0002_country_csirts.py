"""Load the shipped national-CSIRT table (takedown/notices/data/csirts.json).

Every row is loaded disabled: an operator checks the address and enables it.
Rows that already exist (edited by a handler) are left alone.
"""

import json
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parents[1] / "data" / "csirts.json"


def load(apps, schema_editor):
    CountryCSIRT = apps.get_model("notices", "CountryCSIRT")
    rows = json.loads(DATA.read_text(encoding="utf-8"))["csirts"]
    for row in rows:
        CountryCSIRT.objects.get_or_create(
            country=row["country"],
            defaults={
                "name": row["name"],
                "email": row.get("email", ""),
                "url": row.get("url", ""),
                "language": row.get("language", "en"),
                "enabled": False,
                "note": "shipped with Takedown, not verified: check the address, then enable",
            },
        )


class Migration(migrations.Migration):
    dependencies = [("notices", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
