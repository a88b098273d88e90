"""The report's charts, drawn with matplotlib as SVG text to embed in the HTML (no image files, no
JavaScript, no network: the page stands alone).

Labels are English and target ids: the machine may have no CJK font, and the Chinese wording sits
in the HTML table beside each chart. Text stays text in the SVG (svg.fonttype none) and the SVG ids
are salted with a fixed value, so the same data always gives the same bytes. Every label from the
warehouse goes through `_label`: made visible (greencert.terminal_text) and with $ escaped, so no
value is read as mathtext (a `$` pair would be typeset, a bad one would stop the chart); matplotlib
escapes < > & in SVG text itself, so no label is markup.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from types import ModuleType
from typing import TYPE_CHECKING

from greencert.report.data import ReportData, Target
from greencert.terminal_text import visible

if TYPE_CHECKING:
    from matplotlib.dates import DateFormatter, YearLocator
    from matplotlib.figure import Figure

STATUS_EN = {
    "达标": "met",
    "进度正常": "on track",
    "滞后": "behind",
    "监测": "tracked",
    "未接入": "not yet fed",
    "—": "—",
}
STATUS_COLOURS = {"达标": "#1a9850", "进度正常": "#66bd63", "滞后": "#d73027", "监测": "#878787", "未接入": "#bdbdbd"}


def _label(value: object) -> str:
    return visible(value).replace("$", r"\$")


def _pyplot() -> ModuleType:
    import matplotlib

    matplotlib.use("Agg")  # no screen
    matplotlib.rcParams.update(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "greencert",
            "font.family": "DejaVu Sans",  # bundled with matplotlib: the same glyph widths everywhere
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    import matplotlib.pyplot as plt

    return plt


def _svg(fig: Figure, chart_id: str) -> str:
    plt = _pyplot()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML prolog and DOCTYPE: the SVG sits inside HTML
    return svg.replace("<svg ", f'<svg id="{chart_id}" class="chart" role="img" ', 1)


def progress_bars(data: ReportData) -> str:
    """Percent of each numeric target reached, the straight line's percent as a tick, capped at 120 %."""
    plt = _pyplot()
    targets = [t for t in data.targets if t.kind == "target"]
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(targets) + 0.8))
    labels, values, ticks = [], [], []
    for t in targets:
        labels.append(_label(f"{t.target_id} {t.metric_en[:38]}"))
        values.append(min(float(t.percent_of_target or 0), 120.0))
        ticks.append(_percent(t.trajectory_value, t) if t.trajectory_value is not None else None)
    ys = list(range(len(targets)))[::-1]
    ax.barh(ys, values, color=[STATUS_COLOURS.get(t.progress_status, "#999999") for t in targets], height=0.6)
    for y, tick in zip(ys, ticks, strict=True):
        if tick is not None:
            ax.plot([tick, tick], [y - 0.38, y + 0.38], color="black", linewidth=1.5)
    for y, t in zip(ys, targets, strict=True):
        text = "not yet fed" if t.percent_of_target is None else f"{t.percent_of_target}%"
        ax.text(min(float(t.percent_of_target or 0), 120.0) + 1, y, text, va="center", fontsize=8)
    ax.axvline(100, color="#555555", linestyle=":", linewidth=1)
    ax.set_yticks(ys, labels)
    ax.set_xlim(0, 130)
    ax.set_xlabel("% of the 2025 target reached (tick: where the straight line to the target stands today)")
    return _svg(fig, "chart-progress")


def _percent(value: Decimal | None, t: Target) -> float:
    if value is None or not t.target_value:
        return 0.0
    return min(100.0 * float(value) / float(t.target_value), 120.0)


def heat_map(data: ReportData) -> str:
    """Region × target: each region's share of the city's count (colour) and the count (text)."""
    plt = _pyplot()
    targets = [t for t in data.targets if t.kind == "target"]
    regions = data.regions
    city = {t.target_id: t for t in targets}
    shares, texts = [], []
    for region in regions:
        row, text_row = [], []
        for t in targets:
            value = region.actuals.get(t.target_id)
            total = city[t.target_id].actual_value
            if value is None:
                row.append(float("nan"))
                text_row.append("–")
            elif t.is_ratio:  # a share already: colour by the share itself
                row.append(float(value) / 100.0)
                text_row.append(f"{value}%")
            else:
                row.append(float(value) / float(total) if total else 0.0)
                text_row.append(f"{int(value):,}")
        shares.append(row)
        texts.append(text_row)
    fig, ax = plt.subplots(figsize=(0.62 * len(targets) + 2.6, 0.34 * len(regions) + 1.0))
    image = ax.imshow(
        shares,
        cmap="YlGn",
        vmin=0,
        vmax=max(0.5, max((v for r in shares for v in r if v == v), default=0.5)),
        aspect="auto",
    )
    for i, text_row in enumerate(texts):
        for j, text in enumerate(text_row):
            ax.text(j, i, text, ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(targets)), [_label(t.target_id) for t in targets])
    ax.set_yticks(range(len(regions)), [_label(f"{r.region_code} {r.name_en}") for r in regions])
    ax.tick_params(top=True, bottom=False, labeltop=True, labelbottom=False, length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02, label="share of the city's total")
    return _svg(fig, "chart-heatmap")


def trends(data: ReportData) -> str:
    """Each numeric target's published actuals against its straight line, and the projection of the
    recent trend to the deadline: one small chart per target."""
    plt = _pyplot()
    targets = [t for t in data.targets if t.kind == "target" and t.target_value is not None]
    cols = 4
    rows = (len(targets) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(10, 2.2 * rows), squeeze=False)
    for ax in axes.flat[len(targets) :]:
        ax.set_visible(False)
    for ax, t in zip(axes.flat, targets, strict=False):
        start, deadline = t.policy_start, t.deadline or date(2025, 12, 31)
        baseline = float(t.baseline_value or 0)
        assert t.target_value is not None  # the targets that have one (above)
        ax.plot(
            [start, deadline],
            [baseline, float(t.target_value)],
            color="#555555",
            linestyle="--",
            linewidth=1,
            label="trajectory",
        )
        points = data.history.get(t.target_id, [])
        if points:
            ax.plot(
                [d for d, _ in points],
                [float(v) for _, v in points],
                color="#1f78b4",
                marker="o",
                markersize=2.5,
                linewidth=1.5,
                label="actual",
            )
        if t.projected_value is not None and t.actual_value is not None and data.as_of < deadline:
            ax.plot(
                [data.as_of, deadline],
                [float(t.actual_value), float(t.projected_value)],
                color="#ff7f00",
                linestyle=":",
                linewidth=1.5,
                label="projection",
            )
        ax.axhline(float(t.target_value), color=STATUS_COLOURS["达标"], linewidth=0.8)
        ax.set_title(_label(f"{t.target_id} ({STATUS_EN.get(t.progress_status, t.progress_status)})"), fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlim(start, deadline)
        ax.xaxis.set_major_locator(_years())
        ax.xaxis.set_major_formatter(_year_format())
    axes.flat[0].legend(fontsize=7, loc="upper left", frameon=False)
    fig.tight_layout()
    return _svg(fig, "chart-trends")


def _years() -> YearLocator:
    from matplotlib.dates import YearLocator

    return YearLocator()


def _year_format() -> DateFormatter:
    from matplotlib.dates import DateFormatter

    return DateFormatter("%Y")
