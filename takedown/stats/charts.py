"""Charts of the statistics, drawn server-side with matplotlib (Agg), as SVG or PNG.

No pyplot: each chart is a ``Figure`` of its own, so web threads never share
matplotlib's global state, and the rendering itself is serialised by a lock
because font caches are not thread-safe.  Text is drawn as paths in SVG, so a
chart shows the same everywhere (no font needed on the reader's side) and a
brand name from a report can never become live markup; mathtext parsing is
off so a ``$`` in a brand is just a dollar sign.

Japanese labels need a CJK font (Noto Sans CJK JP from fonts-noto-cjk, IPAex
...).  Without one, charts are labelled in English rather than with empty
boxes.
"""

from __future__ import annotations

import functools
import io
import logging
import math
import threading
from collections.abc import Callable
from typing import Any, cast

import matplotlib
from django.conf import settings
from django.utils import translation
from django.utils.translation import pgettext
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, PercentFormatter

from takedown.stats import tables
from takedown.stats.selectors import (
    ADMIN_KINDS,
    REPORTER_KINDS,
    UNKNOWN,
    Stats,
    Survival,
)

log = logging.getLogger(__name__)

FORMATS = {"svg": "image/svg+xml", "png": "image/png"}
_CJK_FONTS = [
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "IPAexGothic",
    "IPAGothic",
    "TakaoGothic",
    "VL Gothic",
    "Source Han Sans JP",
    "Droid Sans Fallback",
]
_LOCK = threading.Lock()
PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
]  # fmt: skip
WIDTH, HEIGHT = 8.0, 4.2


@functools.lru_cache(maxsize=4)
def _font_for(preferred: str) -> str | None:
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    if preferred and preferred not in names:
        log.warning("TAKEDOWN_STATS_FONT=%r is not installed; trying other CJK fonts", preferred)
    for name in [preferred, *_CJK_FONTS]:
        if name and name in names:
            return name
    return None


def cjk_font() -> str | None:
    """The font used for chart labels, or None when no CJK font is installed."""
    return _font_for(settings.STATS_FONT)


def _rc() -> dict[str, Any]:
    font = cjk_font()
    return {
        "font.family": "sans-serif",
        "font.sans-serif": [*([font] if font else []), "DejaVu Sans"],
        "text.parse_math": False,
        "svg.fonttype": "path",
        "svg.hashsalt": "takedown",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "font.size": 9,
        "axes.titlesize": 11,
    }


def _short(text: str, limit: int = 32) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _figure(height: float = HEIGHT) -> tuple[Figure, Any]:
    fig = Figure(figsize=(WIDTH, height), layout="constrained")
    return fig, fig.add_subplot()


def _no_data(ax: Any) -> None:
    ax.text(
        0.5,
        0.5,
        pgettext("stats", "No data"),
        ha="center",
        va="center",
        transform=ax.transAxes,
        color="#888",
    )
    ax.set_xticks([])
    ax.set_yticks([])


# --- the charts ---------------------------------------------------------------


def reports_chart(stats: Stats) -> Figure:
    fig, ax = _figure()
    months = list(stats.reports_by_month)
    values = list(stats.reports_by_month.values())
    if not any(values):
        _no_data(ax)
        return fig
    x = range(len(months))
    ax.bar(x, values, color=PALETTE[0], width=0.8)
    step = max(1, math.ceil(len(months) / 24))
    ax.set_xticks(list(x)[::step], months[::step], rotation=60, ha="right")
    ax.set_ylabel(pgettext("stats", "Reports"))
    ax.set_title(pgettext("stats", "Phishing site reports per month"))
    return fig


def _stacked(ax: Any, labels: list[str], series: list[tuple[str, list[int], str]]) -> None:
    bottom = [0] * len(labels)
    x = list(range(len(labels)))
    for name, values, color in series:
        if not any(values):
            continue
        ax.bar(x, values, bottom=bottom, label=name, color=color, width=0.7)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xticks(x, labels)
    # A year or two alone would otherwise be drawn as one wall of colour.
    ax.set_xlim(-0.8, max(len(labels), 4) - 0.2)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)


def reporters_chart(stats: Stats) -> Figure:
    """Per fiscal year a pair of bars, overseas (hatched) and domestic, stacked by type."""
    fig, ax = _figure()
    years = sorted(stats.reporters)
    fy_labels = tables._fy_labels(stats)
    if not any(n for y in years for sides in stats.reporters[y].values() for n in sides.values()):
        _no_data(ax)
        return fig
    width = 0.38
    ax.set_xlim(-0.8, max(len(years), 4) - 0.2)
    for offset, side, hatch in ((-width / 2, "overseas", "///"), (width / 2, "domestic", "")):
        bottom = [0] * len(years)
        x = [i + offset for i in range(len(years))]
        for i, kind in enumerate(REPORTER_KINDS):
            values = [stats.reporters[y].get(kind, {}).get(side, 0) for y in years]
            ax.bar(
                x,
                values,
                width=width,
                bottom=bottom,
                color=PALETTE[i],
                hatch=hatch,
                edgecolor="white",
                linewidth=0.5,
                label=tables.reporter_kind_label(kind) if side == "domestic" else None,
            )
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    handles, labels = ax.get_legend_handles_labels()
    handles += [
        Patch(facecolor="#bbbbbb", hatch="///", edgecolor="white"),
        Patch(facecolor="#bbbbbb"),
    ]
    labels += [tables.side_label("overseas"), tables.side_label("domestic")]
    ax.legend(
        handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False
    )
    _year_ticks(ax, [str(fy_labels.get(y, y)) for y in years])
    ax.set_ylabel(pgettext("stats", "Reports"))
    ax.set_title(pgettext("stats", "Phishing reporters (by type)"))
    return fig


def _year_ticks(ax: Any, labels: list[str]) -> None:
    crowded = len(labels) > 5 or any(len(label) > 12 for label in labels)
    ax.set_xticks(
        range(len(labels)),
        labels,
        rotation=30 if crowded else 0,
        ha="right" if crowded else "center",
        fontsize=8,
    )


def admins_chart(stats: Stats) -> Figure:
    fig, ax = _figure()
    years = sorted(stats.admins)
    fy_labels = tables._fy_labels(stats)
    kinds = [*ADMIN_KINDS, UNKNOWN]
    series = [
        (
            tables.admin_label(kind),
            [stats.admins[y].get(kind, 0) for y in years],
            PALETTE[i] if kind != UNKNOWN else "#cccccc",
        )
        for i, kind in enumerate(kinds)
    ]
    if not any(any(v) for _, v, _ in series):
        _no_data(ax)
        return fig
    _stacked(ax, [str(fy_labels.get(y, y)) for y in years], series)
    _year_ticks(ax, [str(fy_labels.get(y, y)) for y in years])
    ax.set_ylabel(pgettext("stats", "Sites"))
    ax.set_title(pgettext("stats", "IP address administrators of phishing sites (by type)"))
    return fig


def _hours_axis(ax: Any) -> None:
    ax.set_xscale("log")
    ticks = [1 / 6, 1, 6, 24, 72, 168, 720]
    ax.set_xticks(ticks, [tables.hours_label(t) for t in ticks])
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
    ax.set_xlim(1 / 12, 2160)
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(pgettext("stats", "Time after the first notice"))
    ax.set_ylabel(pgettext("stats", "Sites still up"))


def _curves(ax: Any, curves: list[tuple[str, Survival]]) -> bool:
    drawn = False
    for i, (label, s) in enumerate(curves):
        if not s.sites:
            continue
        xs = [1 / 12] + [h for h, _ in s.points]
        ys = [1.0] + [v for _, v in s.points]
        ax.step(
            xs,
            ys,
            where="post",
            label=f"{_short(label, 28)} (n={s.sites})",
            color=PALETTE[i % len(PALETTE)],
            linewidth=2.2 if i == 0 else 1.4,
        )
        drawn = True
    if drawn:
        _hours_axis(ax)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return drawn


def closure_chart(stats: Stats) -> Figure:
    fig, ax = _figure()
    curves = [(name, s) for name, s in stats.survival_by_org.items()]
    if not _curves(ax, curves):
        _no_data(ax)
    ax.set_title(pgettext("stats", "Time to closure by organisation"))
    return fig


def survival_chart(stats: Stats) -> Figure:
    fig, ax = _figure()
    curves = [(tables.survival_groups(stats)[0][1], stats.survival)]
    curves += [(tables.admin_label(k), s) for k, s in stats.survival_by_type.items()]
    if not _curves(ax, curves):
        _no_data(ax)
    ax.set_title(pgettext("stats", "Time to takedown by administrator type"))
    return fig


def survival_country_chart(stats: Stats) -> Figure:
    fig, ax = _figure()
    curves = [(tables.survival_groups(stats)[0][1], stats.survival)]
    curves += [
        (k if k != UNKNOWN else pgettext("stats", "Unknown"), s)
        for k, s in stats.survival_by_country.items()
    ]
    if not _curves(ax, curves):
        _no_data(ax)
    ax.set_title(pgettext("stats", "Time to takedown by country"))
    return fig


def _barh(ax: Any, labels: list[str], values: list[int], color: str) -> None:
    y = list(range(len(labels)))
    ax.barh(y, values, color=color)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)


def brands_chart(stats: Stats) -> Figure:
    top = stats.brands[:15]
    fig, ax = _figure(max(HEIGHT, 0.3 * len(top) + 1))
    if not top:
        _no_data(ax)
        return fig
    labels = [_short(b) if b else pgettext("stats", "(no brand)") for b, _ in top]
    _barh(ax, labels, [n for _, n in top], PALETTE[3])
    ax.set_xlabel(pgettext("stats", "Sites"))
    ax.set_title(pgettext("stats", "Brands targeted"))
    return fig


def repeats_chart(stats: Stats) -> Figure:
    top = stats.recurrence.top_networks[:15]
    fig, ax = _figure(max(HEIGHT, 0.3 * len(top) + 1))
    if not top:
        _no_data(ax)
        return fig
    labels = [f"{r.where} {_short(r.org, 20)}".strip() for r in top]
    _barh(ax, labels, [r.sites for r in top], PALETTE[4])
    ax.set_xlabel(pgettext("stats", "Sites"))
    ax.set_title(pgettext("stats", "Networks with repeated sites"))
    return fig


def feedback_chart(stats: Stats) -> Figure:
    fig, ax = _figure()
    fb = stats.feedback
    if not fb.down:
        _no_data(ax)
        return fig
    labels = [*tables.feedback_labels(), pgettext("stats", "not told")]
    values = [*fb.buckets, fb.down - fb.told]
    colors = [PALETTE[2]] * len(fb.buckets) + ["#999999"]
    ax.bar(range(len(values)), values, color=colors)
    ax.set_xticks(range(len(values)), labels, rotation=45, ha="right")
    ax.set_ylabel(pgettext("stats", "Sites"))
    ax.set_title(pgettext("stats", "Reporter feedback: confirmed down to reporter told"))
    return fig


CHARTS: dict[str, Callable[[Stats], Figure]] = {
    "reports_by_month": reports_chart,
    "reporters": reporters_chart,
    "admins": admins_chart,
    "organizations": closure_chart,
    "survival": survival_chart,
    "survival_country": survival_country_chart,
    "brands": brands_chart,
    "repeat_networks": repeats_chart,
    "feedback": feedback_chart,
}


def chart_render(name: str, stats: Stats, fmt: str = "svg") -> bytes:
    """Draw chart ``name`` as ``fmt`` (svg or png) in the active language."""
    if name not in CHARTS:
        raise KeyError(name)
    if fmt not in FORMATS:
        raise ValueError(f"unknown chart format {fmt!r}")
    language = translation.get_language() or settings.LANGUAGE_CODE
    if cjk_font() is None and language.startswith("ja"):
        language = "en"
    with _LOCK, matplotlib.rc_context(cast(Any, _rc())), translation.override(language):
        fig = CHARTS[name](stats)
        buf = io.BytesIO()
        metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {}
        fig.savefig(buf, format=fmt, dpi=144 if fmt == "png" else 72, metadata=metadata)
    return buf.getvalue()
