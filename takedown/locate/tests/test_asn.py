"""The offline IP -> AS table (pyasn/ipasn format)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from takedown.lib.testdata import require_shared
from takedown.locate.asn import AsnMatch, AsnTable, AsnTableError, asn_table

SMALL = """; IP-ASN32-DAT file
; hand-made, deliberately not in address order
10.0.0.0/8\t64500
10.1.0.0/16\t64501
10.1.2.0/24\t64502
192.0.2.0/24\t64510
2001:db8::/32\t64520
2001:db8:1::/48\t64521
"""


def test_it_finds_the_most_specific_prefix() -> None:
    table = AsnTable.parse(SMALL)
    assert len(table) == 6
    assert table.lookup("10.1.2.3") == AsnMatch(64502, "10.1.2.0/24")
    assert table.lookup("10.1.3.3") == AsnMatch(64501, "10.1.0.0/16")
    assert table.lookup("10.200.0.1") == AsnMatch(64500, "10.0.0.0/8")
    assert table.lookup("2001:db8:1::5") == AsnMatch(64521, "2001:db8:1::/48")
    assert table.lookup("2001:db8:2::5") == AsnMatch(64520, "2001:db8::/32")
    assert table.lookup("198.51.100.1") is None


@pytest.mark.parametrize("bad", ["", "not an ip", "10.1", "1.2.3.4.5", "::g", "10.1.2.3/24"])
def test_it_answers_none_for_what_is_not_an_address(bad: str) -> None:
    assert AsnTable.parse(SMALL).lookup(bad) is None


@pytest.mark.parametrize(
    "text", ["garbage without tabs", "10.0.0.0/99\t1\n", "10.0.0.0/8\tnot-a-number\n"]
)
def test_it_rejects_a_file_that_is_not_a_table(text: str) -> None:
    with pytest.raises(AsnTableError):
        AsnTable.parse(text)


def test_it_reads_gzip_and_keeps_a_binary_copy(tmp_path: Path) -> None:
    path = tmp_path / "t.dat.gz"
    path.write_bytes(gzip.compress(SMALL.encode()))
    cache = tmp_path / "cache"
    first = AsnTable.load(path, cache_dir=cache)
    assert len(list(cache.glob("asn-*.bin"))) == 1
    second = AsnTable.load(path, cache_dir=cache)
    for ip in ("10.1.2.3", "10.9.9.9", "2001:db8:1::1", "192.0.2.77"):
        assert second.lookup(ip) == first.lookup(ip)


def test_it_ignores_a_corrupt_binary_copy(tmp_path: Path) -> None:
    path = tmp_path / "t.dat"
    path.write_text(SMALL)
    cache = tmp_path / "cache"
    AsnTable.load(path, cache_dir=cache)
    for f in cache.glob("asn-*.bin"):
        f.write_bytes(b"TKDASN1\n" + b"\xff" * 50)
    assert AsnTable.load(path, cache_dir=cache).lookup("10.1.2.3") == AsnMatch(64502, "10.1.2.0/24")


def test_it_says_clearly_when_the_file_is_missing(tmp_path: Path) -> None:
    with pytest.raises(AsnTableError, match="No such file"):
        AsnTable.load(tmp_path / "nope.dat")


def test_it_reads_the_real_2014_table() -> None:
    table = AsnTable.load(require_shared("data/asn/ipasn_20140513.dat.gz"))
    assert len(table) == 512621  # the "; Prefixes" line of the file says so
    assert table.lookup("8.8.8.8") == AsnMatch(15169, "8.8.8.0/24")
    assert table.lookup("133.1.2.5") == AsnMatch(4730, "133.1.0.0/16")  # Osaka University
    assert table.lookup("10.0.0.1") is None


def test_it_reads_the_real_ipv6_table() -> None:
    table = AsnTable.load(require_shared("data/asn/ipasn6_20151101.dat.gz"))
    assert table.lookup("2001:4860:4860::8888") == AsnMatch(15169, "2001:4860::/32")
    assert table.lookup("2a00:2381:ffff::1") == AsnMatch(2856, "2a00:2380::/25")


def test_it_loads_the_configured_table_once(settings: object, tmp_path: Path) -> None:
    path = tmp_path / "t.dat"
    path.write_text(SMALL)
    settings.ASN_TABLE = str(path)  # type: ignore[attr-defined]
    settings.DATA_DIR = tmp_path  # type: ignore[attr-defined]
    table = asn_table()
    assert table is not None and table is asn_table()
    settings.ASN_TABLE = ""  # type: ignore[attr-defined]
    assert asn_table() is None
