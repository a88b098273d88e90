"""The report's HTML page: one file, charts inline as SVG, readable offline and by e-mail.

Every value the template shows is escaped (autoescape: names, file names and reasons come from the
sources, and are never markup, in text or in attributes) and first made visible
(greencert.terminal_text.visible: a control or bidi character from a source shows as its escape,
\u202e, instead of reordering the page). The charts are the only markup passed as it is: SVG text
written by matplotlib, which escapes its text itself (charts.py).
"""

from __future__ import annotations

from decimal import Decimal

import jinja2
import markupsafe

from greencert.report import charts
from greencert.report.data import ReportData, Target
from greencert.terminal_text import visible


def _finalize(value: object) -> object:
    """Each {{ value }} before autoescape: text made visible; markup (the charts) and numbers as they are."""
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return visible(value)
    return value


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("greencert.report", "templates"),
    autoescape=True,  # names and file names come from the sources: never markup
    finalize=_finalize,
    trim_blocks=True,
    lstrip_blocks=True,
)


def fmt(value: Decimal | None, target: Target) -> str:
    if value is None:
        return "—"
    if target.is_ratio:
        return f"{value}%"
    return f"{int(value):,}" if value == int(value) else f"{value:,}"


def render(data: ReportData) -> str:
    counts: dict[str, int] = {}
    for t in data.targets:
        counts[t.progress_status] = counts.get(t.progress_status, 0) + 1
    order = ["达标", "进度正常", "滞后", "监测", "未接入"]
    return _ENV.get_template("report.html.j2").render(
        d=data,
        fmt=fmt,
        counts=[(s, counts[s]) for s in order if s in counts],
        colours=charts.STATUS_COLOURS,
        status_en=charts.STATUS_EN,
        numeric=[t for t in data.targets if t.kind == "target"],
        charts={
            "progress": charts.progress_bars(data),
            "heatmap": charts.heat_map(data),
            "trends": charts.trends(data),
        },
        rows_checked=f"{sum(b['rows'] or 0 for b in data.batches):,}",
        rows_quarantined=f"{sum(b['quarantined'] for b in data.batches):,}",
        refused=sum(b["status"] == "rejected" for b in data.batches),
        mart_passed=sum(c["success"] for c in data.mart_checks),
    )
