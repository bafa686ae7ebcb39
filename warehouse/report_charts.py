"""The owner report's charts as PNG bytes: matplotlib `Figure` objects drawn with the Agg
canvas directly (no pyplot and no global style changes, so reports can be drawn in threads).

Every chart has a fixed size (CHART_SIZE pixels), DejaVu Sans (it ships with matplotlib and has
Cyrillic and the rouble sign) and no timestamp in the file, so the same data gives the same
bytes. Money is plotted in minor units and only the axis labels are turned into roubles.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any, Literal

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from warehouse.report_data import ReportData
from warehouse.report_format import Formatter

FONT = "DejaVu Sans"
DPI = 100
CHART_SIZE = (800, 360)  # pixels
MAX_BARS = 10  # categories beyond the tenth are drawn as one "other" bar
LABEL_CHARS = 34
CHAR_WIDTH = 7.2  # pixels per character of a 9 pt DejaVu Sans label, generously
REVENUE, PROFIT, MARGIN, MUTED = "#2f6db5", "#4c9a52", "#d9822b", "#9db7d8"


def chart_names(data: ReportData) -> list[str]:
    """The charts a report has: each needs something to draw."""
    names = []
    if any(day.receipts or day.profit.revenue_minor for day in data.trend):
        names.append("trend.png")
    if data.has_sales and data.stores:
        names.append("stores.png")
    if data.categories and data.has_sales:
        names.append("categories.png")
    return names


def charts(data: ReportData, language: str = "ru") -> dict[str, bytes]:
    """Every chart of `chart_names(data)` as PNG bytes."""
    fmt = Formatter(language, data.currency)
    draw: dict[str, Callable[[ReportData, Formatter], Figure]] = {
        "trend.png": trend_chart,
        "stores.png": stores_chart,
        "categories.png": categories_chart,
    }
    return {name: png(draw[name](data, fmt)) for name in chart_names(data)}


def png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _figure(left: float = 0.1) -> tuple[Figure, Axes]:
    """Fixed margins (names are cut to LABEL_CHARS), so a chart is drawn once and is always laid
    out the same; the top is left for the legend."""
    figure = Figure(figsize=(CHART_SIZE[0] / DPI, CHART_SIZE[1] / DPI), dpi=DPI)
    figure.subplots_adjust(left=left, right=0.9, top=0.86, bottom=0.1)
    return figure, figure.add_subplot()


def _plain(text: str) -> str:
    """A name as literal text: `$` would start matplotlib's math mode; long names are cut."""
    text = " ".join(text.split())
    if len(text) > LABEL_CHARS:
        text = text[: LABEL_CHARS - 1] + "…"
    return text.replace("$", r"\$")


def _style(axes: Axes, fmt: Formatter, *, money_axis: Literal["x", "y"] = "y") -> None:
    axes.tick_params(labelsize=9, labelfontfamily=FONT)
    money = FuncFormatter(lambda value, _: fmt.whole_money(round(value)))
    (axes.yaxis if money_axis == "y" else axes.xaxis).set_major_formatter(money)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis=money_axis, color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)


def _legend(figure: Figure, handles: list[Any]) -> None:
    """Above the plot, so it never hides a bar."""
    figure.legend(
        handles=handles,
        prop={"family": FONT, "size": 9},
        frameon=False,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.99),
        ncols=len(handles),
    )


def _bar_labels(axes: Axes, bars: BarContainer, values: list[int], fmt: Formatter) -> None:
    axes.bar_label(
        bars,
        labels=[fmt.whole_money(v) for v in values],
        padding=3,
        fontsize=8,
        fontfamily=FONT,
    )


def trend_chart(data: ReportData, fmt: Formatter) -> Figure:
    """28 days: revenue bars (the report's own days darker) and the margin as a line."""
    figure, axes = _figure()
    days = data.trend
    positions = list(range(len(days)))
    colours = [REVENUE if d.day >= data.period.start else MUTED for d in days]
    axes.bar(positions, [d.profit.revenue_minor for d in days], color=colours)
    _style(axes, fmt)
    ticks = list(range(len(days) - 1, -1, -7))[::-1]  # weekly, ending on the last day
    axes.set_xticks(ticks, [fmt.short_date(days[i].day) for i in ticks])
    margin = axes.twinx()
    values = [math.nan if d.profit.margin_bp is None else d.profit.margin_bp / 100 for d in days]
    (line,) = margin.plot(
        positions, values, color=MARGIN, marker="o", markersize=3, label=fmt.t("chart_margin")
    )
    margin.tick_params(labelsize=9, labelfontfamily=FONT)
    percent = "\u00a0%" if fmt.ru else "%"
    margin.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.0f}{percent}"))
    margin.yaxis.set_major_locator(MaxNLocator(5))
    margin.spines[["top"]].set_visible(False)
    known = [v for v in values if not math.isnan(v)]
    if known:  # from zero (or the lowest negative margin), so small moves do not look big
        low, high = min(0.0, *known), max(0.0, *known)
        span = (high - low) or 1.0
        margin.set_ylim(low - 0.05 * span, high + 0.1 * span)
    revenue = Patch(color=REVENUE, label=fmt.t("chart_revenue"))
    _legend(figure, [revenue, line])
    return figure


def stores_chart(data: ReportData, fmt: Formatter) -> Figure:
    """Revenue and gross profit side by side for every store."""
    stores = list(reversed(data.stores[:MAX_BARS]))
    bars = [(s.store_name, s.sales.revenue_minor, s.sales.gross_profit_minor) for s in stores]
    return _paired_bars(bars, fmt)


def categories_chart(data: ReportData, fmt: Formatter) -> Figure:
    """Revenue and gross profit of the biggest categories; the rest as one bar."""
    named = [
        (
            c.category_name or fmt.t("no_category"),
            c.profit.revenue_minor,
            c.profit.gross_profit_minor,
        )
        for c in data.categories
    ]
    if len(named) > MAX_BARS:
        rest = named[MAX_BARS - 1 :]
        named = [
            *named[: MAX_BARS - 1],
            (fmt.t("chart_other"), sum(r[1] for r in rest), sum(r[2] for r in rest)),
        ]
    return _paired_bars(list(reversed(named)), fmt)


def _paired_bars(bars: list[tuple[str, int, int]], fmt: Formatter) -> Figure:
    """Horizontal revenue and gross profit bars per (name, revenue, gross profit), bottom up;
    the left margin fits the longest name."""
    names = [_plain(r[0]) for r in bars]
    widest = max((len(n.replace("\\$", "$")) for n in names), default=0)
    figure, axes = _figure(left=min(0.45, (widest * CHAR_WIDTH + 24) / CHART_SIZE[0]))
    positions = list(range(len(bars)))
    height = 0.38
    revenue = [r[1] for r in bars]
    profit = [r[2] for r in bars]
    top = axes.barh(
        [p + height / 2 for p in positions],
        revenue,
        height=height,
        color=REVENUE,
        label=fmt.t("chart_revenue"),
    )
    bottom = axes.barh(
        [p - height / 2 for p in positions],
        profit,
        height=height,
        color=PROFIT,
        label=fmt.t("chart_gross_profit"),
    )
    _style(axes, fmt, money_axis="x")
    axes.set_yticks(positions, names)
    axes.xaxis.set_major_locator(MaxNLocator(6))
    _bar_labels(axes, top, revenue, fmt)
    _bar_labels(axes, bottom, profit, fmt)
    axes.margins(x=0.15)
    _legend(figure, [top, bottom])
    return figure


__all__ = ["CHART_SIZE", "chart_names", "charts", "png"]
