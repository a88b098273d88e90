"""The report as its readers see it, in headless Chromium: Chinese first, every character drawn with
a glyph of the page's fonts (none as the missing-glyph box), the charts laid out; a screenshot kept in
var/test-artifacts for a person to look at. The nightly's own report is checked the same way by the
stack test (tests/stack/test_nightly_e2e.py)."""

from __future__ import annotations

from greencert.report import html

from ..unit.test_report import data
from .helpers import render_in_chromium


def test_the_report_reads_in_chinese_with_no_missing_glyph(tmp_path) -> None:
    page = tmp_path / "written" / "report.html"  # apart from the copy render_in_chromium measures
    page.parent.mkdir()
    page.write_text(html.render(data()), encoding="utf-8")
    laid = render_in_chromium(page, tmp_path, screenshot="report-hand-made.png")
    assert laid["missing_glyphs"] == [] and laid["chars"] > 150, laid
    charts = {c["id"]: c for c in laid["charts"]}
    assert set(charts) == {"chart-progress", "chart-heatmap", "chart-trends"}
    for chart in charts.values():
        assert chart["width"] > 300 and chart["height"] > 150 and chart["texts"] > 5, chart
    assert laid["targets"] == 4 and laid["regions"] == 2


def test_the_missing_glyph_check_sees_a_box(tmp_path) -> None:
    """What the check above relies on: a character no font has is found, and only it."""
    probe = tmp_path / "probe.html"
    probe.write_text(
        '<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
        "<body style=\"font-family: 'Noto Sans CJK SC', sans-serif\">苏州 Suzhou \U000f0001</body></html>",
        encoding="utf-8",
    )
    assert render_in_chromium(probe, tmp_path)["missing_glyphs"] == ["\U000f0001"]
