"""Sample `agri_output` feed: edible agri-product output by district, category and year (XLSX).

The agriculture bureau publishes a year's figures the next spring (PUBLISHED_ON), so the file for
date D holds every year published by D: one title row, the header, the rows and a 合计 row. The
green-quality share of each district climbs year on year towards the 75 % goal, unevenly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from standins import xlsx
from standins.certificates import REGIONS

HEADERS: list[str] = ["年度", "地区", "类别", "总产量(吨)", "绿色优质农产品产量(吨)"]
# tonnes per year for the whole city, and the city's green-quality share of each in 2021
CATEGORIES: dict[str, tuple[int, float]] = {
    "粮食": (880_000, 0.62),
    "蔬菜": (1_650_000, 0.55),
    "水果": (210_000, 0.60),
    "茶叶": (3_400, 0.80),
    "水产品": (230_000, 0.58),
    "畜禽产品": (120_000, 0.50),
}
# rural weight of each county-level unit (the urban districts grow little)
FARMING = {
    "320582": 14,
    "320581": 18,
    "320585": 14,
    "320583": 10,
    "320509": 18,
    "320506": 14,
    "320507": 8,
    "320508": 0.3,
    "320571": 1,
    "320505": 2.7,
}
FIRST_YEAR = 2021
GROWTH_PER_YEAR = 0.045  # share points gained per year, on average


def published_on(year: int) -> date:
    return date(year + 1, 3, 31)


@dataclass(frozen=True)
class Row:
    year: int
    region: str
    category: str
    total_t: int
    green_t: int


def build_rows(seed: int = 2022, last_year: int = 2030) -> list[Row]:
    rng = random.Random(f"agri_output:{seed}")
    total_weight = sum(FARMING.values())
    rows = []
    for region, weight in FARMING.items():
        lead = rng.uniform(-0.06, 0.06)  # some districts are ahead of others
        for category, (city_total, share_2021) in CATEGORIES.items():
            base = city_total * weight / total_weight
            share = min(0.95, max(0.2, share_2021 + lead + rng.uniform(-0.05, 0.05)))
            for year in range(FIRST_YEAR, last_year + 1):
                total = round(base * rng.uniform(0.95, 1.05))
                rows.append(Row(year, region, category, total, min(total, round(total * share))))
                share = min(0.95, share + GROWTH_PER_YEAR * rng.uniform(0.4, 1.6))
    return rows


def published(seed: int, as_of: date) -> list[Row]:
    return [r for r in build_rows(seed) if published_on(r.year) <= as_of]


def share_on(seed: int, as_of: date) -> tuple[int | None, dict[str, tuple[int, int]]]:
    """The latest year published by `as_of` and its (green, total) tonnes per region: what T04 reads."""
    rows = published(seed, as_of)
    if not rows:
        return None, {}
    year = max(r.year for r in rows)
    out: dict[str, tuple[int, int]] = {}
    for r in rows:
        if r.year == year:
            g, t = out.get(r.region, (0, 0))
            out[r.region] = (g + r.green_t, t + r.total_t)
    return year, out


def write(as_of: date, out_dir: Path, seed: int = 2022) -> Path:
    from openpyxl import Workbook

    rows = published(seed, as_of)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("产量")
    ws.append(["苏州市食用农产品产量统计（分地区、分类别）"])
    ws.append(HEADERS)
    for r in sorted(rows, key=lambda r: (r.year, list(REGIONS).index(r.region), r.category)):
        ws.append([r.year, REGIONS[r.region], r.category, r.total_t, r.green_t])
    ws.append(["合计", "", "", sum(r.total_t for r in rows), sum(r.green_t for r in rows)])
    last = max((r.year for r in rows), default=FIRST_YEAR - 1)
    return xlsx.save(wb, out_dir / f"食用农产品产量_{last}.xlsx", f"{published_on(last)}T09:00:00Z")
