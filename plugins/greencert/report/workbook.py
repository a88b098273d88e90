"""The report's XLSX workbook for the office: targets, one sheet per region, data quality.

Every value goes through greencert.sheet_text.cell: text from the sources is written as sent,
except that a cell beginning with = + - @ (or a tab, a CR) gets a leading apostrophe — spreadsheet
programs would otherwise run it as a formula (CSV/formula injection, e.g. an enterprise "named"
=HYPERLINK(...)) — and a character a workbook cannot hold (\x00–\x1f but tab, LF, CR) is written as
its escape (\x07) instead of making openpyxl refuse the whole export.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from greencert.report.charts import STATUS_EN
from greencert.report.data import ReportData
from greencert.sheet_text import cell as safe_text

if TYPE_CHECKING:
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet


def _sheet_title(text: str) -> str:
    text = str(safe_text(text)).lstrip("'")  # a title is never a formula: only the escapes matter
    for ch in "[]:*?/\\":
        text = text.replace(ch, " ")
    return text[:31]


def write(data: ReportData, path: Path) -> Path:
    wb = Workbook(write_only=True)
    bold = Font(bold=True)

    def add(ws: WriteOnlyWorksheet, values: list[object], header: bool = False) -> None:
        cells = []
        for v in values:
            cell = WriteOnlyCell(ws, value=safe_text(v))  # type: ignore[arg-type]  # the stubs leave out Decimal, date
            if header:
                cell.font = bold
            cells.append(cell)
        ws.append(cells)

    ws = wb.create_sheet(_sheet_title("目标 Targets"))
    add(ws, [f"苏州市绿色认证目标进度 Target progress — {data.as_of}"], header=True)
    add(
        ws,
        [
            "目标 Target",
            "条款 Clause",
            "指标 Indicator",
            "Metric",
            "单位 Unit",
            "实际 Actual",
            "比较 Comparator",
            "目标值 Target",
            "完成率% Percent of target",
            "进度线 Trajectory",
            "预测 Projected 2025-12-31",
            "状态 Status",
            "Status",
        ],
        header=True,
    )
    for t in data.targets:
        add(
            ws,
            [
                t.target_id,
                t.clause,
                t.indicator_zh,
                t.metric_en,
                t.unit_zh,
                t.actual_value,
                t.comparator,
                t.target_value,
                t.percent_of_target,
                t.trajectory_value,
                t.projected_value,
                t.progress_status,
                STATUS_EN.get(t.progress_status, ""),
            ],
        )

    for region in data.regions:
        ws = wb.create_sheet(_sheet_title(f"{region.region_code} {region.name_zh}"))
        add(ws, [f"{region.region_code} {region.name_zh} {region.name_en} — {data.as_of}"], header=True)
        add(
            ws,
            ["目标 Target", "指标 Indicator", "Metric", "单位 Unit", "实际 Actual", "占全市% Share of city"],
            header=True,
        )
        for t in data.targets:
            value = region.actuals.get(t.target_id)
            share = (
                round(100 * value / t.actual_value, 1)
                if value is not None and t.actual_value and not t.is_ratio
                else None
            )
            add(
                ws,
                [
                    t.target_id,
                    t.indicator_zh,
                    t.metric_en,
                    t.unit_zh,
                    value if value is not None else "未接入 not yet fed",
                    share,
                ],
            )

    ws = wb.create_sheet(_sheet_title("数据质量 Data quality"))
    add(ws, [f"数据质量 Data quality — batches landed {data.as_of} and the mart gate on its build"], header=True)
    add(
        ws,
        ["数据源 Feed", "文件 File", "状态 Status", "行数 Rows", "隔离 Quarantined rows", "原因 Reason"],
        header=True,
    )
    for b in data.batches:
        add(ws, [b["feed"], b["source_file"], b["status"], b["rows"], b["quarantined"], b["reason"]])
    add(ws, [])
    add(ws, ["数据源 Feed", "规则 Rule", "隔离 Quarantined rows"], header=True)
    for feed, rule, n in data.quarantine_rules:
        add(ws, [feed, rule, n])
    add(ws, [])
    add(
        ws,
        ["发布检查 Mart gate expectation", "列 Column", "通过 Success", "级别 Severity", "观测 Observed"],
        header=True,
    )
    for c in data.mart_checks:
        add(ws, [c["expectation"], c["column_name"], c["success"], c["severity"], (c["observed"] or "")[:500]])
    wb.save(path)
    return path
