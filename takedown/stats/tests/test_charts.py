from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import translation

from takedown.stats import charts
from takedown.stats.selectors import period_all, stats_compute
from takedown.stats.tests.history import History, jst


@pytest.fixture
def stats(db, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    h = History()
    net = h.org("ネットA", country="JP")
    abroad = h.org("Host B", country="US")
    for i in range(5):
        h.case(net, jst(2025, 6, 2 + i, 10), timedelta(hours=3 + 10 * i), brand="三井住友カード")
    h.case(abroad, jst(2025, 7, 1, 10), None, brand="$x^2$ \\undefinedcommand{")
    h.report(jst(2025, 8, 1), urls=2, kind="financial", country="US")
    return stats_compute(period_all(as_of=jst(2025, 9, 1)))


@pytest.fixture
def empty(db, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    return stats_compute(period_all(as_of=jst(2025, 9, 1)))


@pytest.mark.parametrize("name", sorted(charts.CHARTS))
@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_it_draws_every_chart(stats, name, fmt):
    body = charts.chart_render(name, stats, fmt)
    assert body.startswith(b"<?xml" if fmt == "svg" else b"\x89PNG")
    assert len(body) > 2000


@pytest.mark.parametrize("name", sorted(charts.CHARTS))
def test_it_draws_charts_without_data(empty, name):
    assert charts.chart_render(name, empty, "svg").startswith(b"<?xml")


def test_it_gives_the_same_svg_twice(stats):
    # No dates or random ids in the file: a chart can be compared and cached.
    assert charts.chart_render("admins", stats) == charts.chart_render("admins", stats)


def test_it_draws_japanese_text_with_a_cjk_font(stats):
    font = charts.cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (fonts-noto-cjk)")
    # The legend names the organisation "ネットA": its glyphs come from the CJK font.
    svg = charts.chart_render("organizations", stats)
    glyph_ids = set(re.findall(rb'<path id="([A-Za-z]+)-', svg))
    assert font.replace(" ", "").lower().encode() in {g.lower() for g in glyph_ids}


def _spy_language(monkeypatch) -> list[str]:
    seen: list[str] = []
    original = charts.CHARTS["admins"]

    def spy(stats):
        seen.append(translation.get_language())
        return original(stats)

    monkeypatch.setitem(charts.CHARTS, "admins", spy)
    return seen


def test_it_labels_charts_in_the_active_language(stats, monkeypatch):
    if charts.cjk_font() is None:
        pytest.skip("no CJK font installed (fonts-noto-cjk)")
    seen = _spy_language(monkeypatch)
    with translation.override("ja"):
        charts.chart_render("admins", stats)
    assert seen == ["ja"]


def test_it_falls_back_to_english_without_a_cjk_font(stats, monkeypatch):
    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    seen = _spy_language(monkeypatch)
    with translation.override("ja"):
        charts.chart_render("admins", stats)
    assert seen == ["en"]


def test_it_reports_a_missing_preferred_font(settings, caplog):
    charts._font_for.cache_clear()
    settings.STATS_FONT = "No Such Font 123"
    try:
        found = charts.cjk_font()
    finally:
        charts._font_for.cache_clear()
    assert "No Such Font 123" in caplog.text
    assert found != "No Such Font 123"


def test_it_refuses_unknown_charts_and_formats(stats):
    with pytest.raises(KeyError):
        charts.chart_render("nope", stats)
    with pytest.raises(ValueError):
        charts.chart_render("admins", stats, "pdf")
