"""Statistics over real data: JPCERT/CC's published phishing URL list, imported as history."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from takedown.intake.extract import InvalidURL, normalise_url
from takedown.intake.importer import import_csv
from takedown.intake.services import ReporterInfo, reporter_get_or_create
from takedown.lib.testdata import require_shared
from takedown.stats.calendar import fiscal_year_period
from takedown.stats.selectors import stats_as_json, stats_compute
from takedown.stats.tables import reporters_table
from takedown.stats.tests.history import jst

FILES = ["2023/202303.csv", "2023/202304.csv"]  # either side of the FY2022/FY2023 boundary


@pytest.fixture
def imported(db, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    paths = [require_shared("data", "jpcert-phishurl", *name.split("/")) for name in FILES]
    reporter = reporter_get_or_create(ReporterInfo(name="JPCERT/CC", kind="csirt", country="JP"))
    results = {}
    for path in paths:
        results[path.stem] = import_csv(path, reporter=reporter, historical=True)
    return paths, results


def expected_brands(paths) -> Counter[str]:
    """Each distinct URL counted once, under the brand of its first row."""
    first: dict[str, str] = {}
    for path in paths:
        with path.open(encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                try:
                    url = normalise_url(row["URL"]).url
                except InvalidURL:
                    continue
                first.setdefault(url, row["description"].strip())
    return Counter(first.values())


def test_it_counts_the_published_list(imported):
    _, results = imported
    as_of = jst(2024, 1, 1)
    fy22 = stats_as_json(stats_compute(fiscal_year_period(2022, as_of=as_of)))
    fy23 = stats_as_json(stats_compute(fiscal_year_period(2023, as_of=as_of)))
    assert fy22["reports_by_month"]["2023-03"] == results["202303"].imported
    assert fy23["reports_by_month"]["2023-04"] == results["202304"].imported
    assert results["202303"].imported > 3000
    assert fy23["reporters"]["FY2023"]["csirt"]["domestic"] == results["202304"].imported
    # History has no IP addresses: nothing is located, nothing was noticed.
    assert fy23["admins"]["FY2023"]["unknown"] > 0
    assert fy23["organizations"] == []


def test_it_ranks_the_spoofed_brands(imported):
    paths, _ = imported
    stats = stats_compute(fiscal_year_period(2022, as_of=jst(2024, 1, 1)))
    stats23 = stats_compute(fiscal_year_period(2023, as_of=jst(2024, 1, 1)))
    got = Counter(dict(stats.brands)) + Counter(dict(stats23.brands))
    want = expected_brands(paths)
    top = [b for b, _ in want.most_common(5)]
    assert {b: got[b] for b in top} == {b: want[b] for b in top}


def test_it_renders_the_reporters_table(imported):
    stats = stats_compute(fiscal_year_period(2023, as_of=jst(2024, 1, 1)))
    table = reporters_table(stats)
    assert table.rows[0][0] == "CSIRT"
    assert int(table.rows[0][2]) > 3000  # domestic
