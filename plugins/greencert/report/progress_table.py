"""The target-progress table, read from the published `bi` views; every value printed through
greencert.terminal_text.visible (no escape sequence or line break reaches the terminal)."""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg

from greencert.terminal_text import visible

CITY = "320500"


def _width(text: str) -> int:
    # CJK characters take two terminal columns
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    fill = " " * max(0, width - _width(text))
    return fill + text if right else text + fill


def _fmt(value: Decimal | float | str | None) -> str:
    if value is None:
        return "—"
    if hasattr(value, "is_integer") and value == int(value):  # Decimal / float whole numbers
        return f"{int(value):,}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def rows(conninfo: str, as_of: date, region_code: str = CITY) -> list[tuple]:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(
            """select target_id, clause, indicator_zh, actual_value, comparator, target_value,
                      percent_of_target, trajectory_value, progress_status, unit_zh
               from bi.target_progress
               where as_of_date = %s and region_code = %s
               order by left(target_id, 1) = 'I', target_id""",
            (as_of, region_code),
        ).fetchall()


def progress_table(conninfo: str, as_of: date, region_code: str = CITY) -> str:
    data = rows(conninfo, as_of, region_code)
    if not data:
        return f"no published target progress for {as_of} (region {visible(region_code)})"
    header = ("目标", "条款", "指标", "实际", "目标值", "完成率", "进度线", "状态")
    body: list[tuple[Any, ...]] = []
    for target_id, clause, indicator, actual, comparator, target, pct, trajectory, status, unit in data:
        ratio = unit == "%"
        body.append(
            (
                target_id,
                clause,
                indicator,
                f"{actual}%" if ratio and actual is not None else _fmt(actual),
                f"{comparator or ''}{_fmt(target)}{unit or ''}" if target is not None else "—",
                f"{pct}%" if pct is not None else "—",
                f"{trajectory}%" if ratio and trajectory is not None else _fmt(trajectory),
                "未接入 not yet fed" if status == "未接入" else status,
            )
        )
    body = [tuple(visible(v) if isinstance(v, str) else v for v in r) for r in body]
    widths = [max(_width(str(r[i])) for r in (header, *body)) for i in range(len(header))]
    numeric = {3, 4, 5, 6}
    region_code = visible(region_code)
    lines = [
        f"Target progress on {as_of} — region {region_code}"
        + ("" if region_code != CITY else " (进度线 = where the straight line to the 2025 target stands today)")
    ]
    for r in (header, *body):
        lines.append("  ".join(_pad(str(v), widths[i], right=i in numeric) for i, v in enumerate(r)))
        if r is header:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
