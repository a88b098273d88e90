"""Helpers for the integration tests: hand-made certificate files, the sample population."""

from __future__ import annotations

import csv
from datetime import date
from functools import cache
from pathlib import Path

from greencert import feeds, warehouse
from greencert.warehouse import roles

AS_OF = date(2025, 6, 30)

HEADERS = [c.headers[0] for c in feeds.get("certificates").columns]


def cert(cert_no: str, **fields: str) -> dict[str, str]:
    row = {
        "证书编号": cert_no, "证书状态": "有效", "认证类别": "管理体系认证", "认证项目": "环境管理体系认证",
        "组织名称": f"苏州{cert_no}有限公司", "认证机构名称": "中国质量认证中心",
        "认证机构批准号": "CNCA-R-2002-001", "颁证日期": "2024-01-10", "证书到期日期": "2027-01-09",
        "是否是子证书": "否", "更新时间": "2024-01-10 09:00:00",
    }
    row.update(fields)
    return row


def write_csv(path: Path, rows: list[dict[str, str]], headers: list[str] = HEADERS,
              encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding=encoding) as fh:
        writer = csv.DictWriter(fh, fieldnames=headers, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@cache
def population(seed: int = 2022):
    from greencert.generate import certificates

    return certificates.build_population(seed)


def admin_url_for(database: str) -> str:
    return roles._swap_db(warehouse.admin_url(), database)


def write_xlsx(path: Path, rows: list[dict[str, str]], headers: list[str] = HEADERS,
               title_rows: tuple[str, ...] = (), total_row: bool = False) -> Path:
    """An XLSX list as the provincial offices publish them: title rows, header, rows, 合计."""
    from openpyxl import Workbook

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Sheet1")
    for title in title_rows:
        ws.append([title])
    ws.append(headers)
    for row in rows:
        ws.append([row.get(h, "") for h in headers])
    if total_row:
        ws.append(["合计", f"{len(rows)}项"])
    wb.save(path)
    return path
