"""The report's charts, drawn with matplotlib as SVG text to embed in the HTML (no image files, no
JavaScript, no network: the page stands alone).

Chinese first, English beside it where it helps: the labels are drawn with a CJK font the project
installs (Debian's fonts-noto-cjk: `make fonts`; the images carry it) and written into the SVG as
glyph paths (svg.fonttype path), so a chart reads the same on a machine with no CJK font; matplotlib
writes each label's text beside its paths (an XML comment), so the words stay findable. A label
with a character the fonts lack is drawn as a box: `missing_glyphs` lists what a chart asked for
that the fonts do not have. The SVG ids are salted with a fixed value, so the same data always gives
the same bytes. Every label from the warehouse goes through `_label`: made visible
(greencert.terminal_text) and with $ escaped, so no value is read as mathtext (a `$` pair would be
typeset, a bad one would stop the chart); matplotlib escapes < > & and "--" in the comment it writes
beside the paths, so no label is markup.
"""

from __future__ import annotations

import io
import logging
import re
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
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
log = logging.getLogger(__name__)

# the CJK fonts the charts may use, preferred first (Debian's fonts-noto-cjk, then others a server
# may have); DejaVu Sans (bundled with matplotlib) draws what they lack, e.g. some symbols
CJK_FONTS = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Noto Sans CJK JP")
FONT_PACKAGE = "fonts-noto-cjk"
STATUS_COLOURS = {"达标": "#1a9850", "进度正常": "#66bd63", "滞后": "#d73027", "监测": "#878787", "未接入": "#bdbdbd"}


def _label(value: object) -> str:
    return visible(value).replace("$", r"\$")


class MissingFont(RuntimeError):
    """No CJK font is installed: the charts' Chinese would be boxes."""


@cache
def cjk_font() -> str:
    """The CJK font family the charts are drawn with. matplotlib's font cache predates fonts installed
    after it was made, so the system's fonts are looked at again before giving up."""
    from matplotlib import font_manager

    def installed() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((name for name in CJK_FONTS if name in names), None)

    if (found := installed()) is None:
        for path in font_manager.findSystemFonts():
            if re.search(r"(?i)cjk|wqy|sourcehan", Path(path).name):
                font_manager.fontManager.addfont(path)
        found = installed()
    if found is None:
        raise MissingFont(
            f"no CJK font for the report's charts (one of {', '.join(CJK_FONTS)}): "
            f"install Debian's {FONT_PACKAGE} (`make fonts`, as root)"
        )
    return found


def missing_glyphs(labels: list[str]) -> list[str]:
    """The characters of `labels` that neither the CJK font nor DejaVu Sans has (drawn as boxes)."""
    from matplotlib import font_manager

    charmaps = []
    for family in (cjk_font(), "DejaVu Sans"):
        path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        charmaps.append(font_manager.get_font(path).get_charmap())  # the family's face of a collection
    wanted = {ch for label in labels for ch in label if not ch.isspace()}
    return sorted(ch for ch in wanted if not any(ord(ch) in cmap for cmap in charmaps))


def _pyplot() -> ModuleType:
    import matplotlib

    matplotlib.use("Agg")  # no screen
    matplotlib.rcParams.update(
        {
            "svg.fonttype": "path",  # glyphs as paths: the same on a machine with no CJK font
            "svg.hashsalt": "greencert",
            "font.family": [cjk_font(), "DejaVu Sans"],  # per glyph: the first font that has it
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    import matplotlib.pyplot as plt

    return plt


def _svg(fig: Figure, chart_id: str) -> str:
    from matplotlib.text import Text

    plt = _pyplot()
    if missing := missing_glyphs([t.get_text() for t in fig.findobj(Text)]):
        log.warning("chart %s: no glyph for %s in the fonts: drawn as boxes", chart_id, " ".join(missing))
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
        labels.append(_label(f"{t.target_id} {_short(t.indicator_zh)}"))
        values.append(min(float(t.percent_of_target or 0), 120.0))
        ticks.append(_percent(t.trajectory_value, t) if t.trajectory_value is not None else None)
    ys = list(range(len(targets)))[::-1]
    ax.barh(ys, values, color=[STATUS_COLOURS.get(t.progress_status, "#999999") for t in targets], height=0.6)
    for y, tick in zip(ys, ticks, strict=True):
        if tick is not None:
            ax.plot([tick, tick], [y - 0.38, y + 0.38], color="black", linewidth=1.5)
    for y, t in zip(ys, targets, strict=True):
        text = "未接入 not yet fed" if t.percent_of_target is None else f"{t.percent_of_target}%"
        ax.text(min(float(t.percent_of_target or 0), 120.0) + 1, y, text, va="center", fontsize=8)
    ax.axvline(100, color="#555555", linestyle=":", linewidth=1)
    ax.set_yticks(ys, labels)
    ax.set_xlim(0, 130)
    ax.set_xlabel(
        "2025 年目标完成率（%）　竖线：进度线当日位置\n"
        "% of the 2025 target reached; tick: where the straight line stands today"
    )
    return _svg(fig, "chart-progress")


def _short(text: str, width: int = 14) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


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
    ax.set_yticks(range(len(regions)), [_label(f"{r.region_code} {r.name_zh}") for r in regions])
    ax.tick_params(top=True, bottom=False, labeltop=True, labelbottom=False, length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02, label="占全市比例 share of the city's total")
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
            label="进度线 trajectory",
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
                label="实际 actual",
            )
        if t.projected_value is not None and t.actual_value is not None and data.as_of < deadline:
            ax.plot(
                [data.as_of, deadline],
                [float(t.actual_value), float(t.projected_value)],
                color="#ff7f00",
                linestyle=":",
                linewidth=1.5,
                label="预测 projection",
            )
        ax.axhline(float(t.target_value), color=STATUS_COLOURS["达标"], linewidth=0.8)
        ax.set_title(_label(f"{t.target_id} {_short(t.indicator_zh, 10)} · {t.progress_status}"), fontsize=9)
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
