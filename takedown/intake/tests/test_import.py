from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from takedown.cases.models import Event, EventKind, Site
from takedown.intake.importer import ImportError_, import_csv
from takedown.intake.models import Report, ReportStatus
from takedown.lib.testdata import require_shared

pytestmark = pytest.mark.django_db

JPCERT_STYLE = """date,URL,description
2022/01/04 07:09:00,http://anonzon.zy17.cn,Amazon
2022/01/04 09:10:00,https://www.amaozom.tjpmgkhxwc.cn/,Vpass
2022/01/05 10:00:00,http://anonzon.zy17.cn,Amazon again
2022/01/05 11:00:00,javascript:alert(1),Broken
"""


def test_it_imports_jpcert_rows_once(tmp_path: Path) -> None:
    path = tmp_path / "202201.csv"
    path.write_text(JPCERT_STYLE)
    stats = import_csv(path, historical=True)
    assert (stats.rows, stats.imported, stats.bad, stats.new_sites) == (4, 3, 1, 2)
    site = Site.objects.get(url="http://anonzon.zy17.cn/")
    assert site.brand == "Amazon"
    assert site.historical
    assert (
        site.first_reported.astimezone(ZoneInfo("Asia/Tokyo")).isoformat()
        == "2022-01-04T07:09:00+09:00"
    )
    assert site.reports.count() == 2

    again = import_csv(path, historical=True)
    assert (again.imported, again.skipped) == (0, 4)
    assert Report.objects.count() == 4
    assert Site.objects.count() == 2


def test_it_keeps_a_broken_row_with_its_error(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(JPCERT_STYLE)
    import_csv(path)
    bad = Report.objects.get(status=ReportStatus.REJECTED)
    assert "javascript:alert(1)" in bad.raw_text
    assert "line 5" in bad.errors[0]


def test_it_refuses_binary_junk(tmp_path: Path) -> None:
    path = tmp_path / "junk.csv"
    path.write_bytes(b"\x00\x01\x02garbage\xff" * 100)
    with pytest.raises(ImportError_, match="binary"):
        import_csv(path)


def test_it_refuses_a_csv_without_url_column(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(CommandError, match="no 'url' column"):
        call_command("import", str(path), "--quiet")


def test_it_says_when_the_file_is_missing(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file"):
        call_command("import", str(tmp_path / "missing.csv"))


def test_it_imports_a_real_jpcert_month() -> None:
    path = require_shared("data", "jpcert-phishurl", "2022", "202201.csv")
    # The published file repeats a few rows verbatim; a repeated row is one report.
    lines = list(dict.fromkeys(path.read_text().strip().splitlines()))
    call_command(
        "import",
        str(path),
        "--history",
        "--name",
        "JPCERT/CC",
        "--type",
        "csirt",
        "--country",
        "JP",
        "--quiet",
    )
    reports = Report.objects.filter(channel="import")
    assert reports.count() == len(lines) - 1
    assert reports.filter(status=ReportStatus.ACCEPTED).count() >= 0.99 * (len(lines) - 1)
    assert (
        Event.objects.filter(kind=EventKind.SITE_REPORTED).count()
        + Event.objects.filter(kind=EventKind.SITE_REREPORTED).count()
        == reports.filter(status=ReportStatus.ACCEPTED).count()
    )
    count = Site.objects.count()
    call_command("import", str(path), "--history", "--quiet")
    assert Site.objects.count() == count
    assert Report.objects.count() == len(lines) - 1


def test_it_refuses_a_history_row_without_a_date(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text(
        "date,URL,description\n,http://nodate.example/,X\n2022/01/04 07:09:00,http://dated.example/,Y\n"
    )
    stats = import_csv(path, historical=True)
    assert (stats.imported, stats.bad) == (1, 1)
    assert "no date" in stats.errors[0]
    assert Report.objects.get(status=ReportStatus.REJECTED).raw_text == ",http://nodate.example/,X"
