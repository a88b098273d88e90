"""Sample `credit_blacklist` feed: 严重违法失信名单 entries for Suzhou enterprises (CSV).

Some listed enterprises also hold certificates in the certificates feed (same USCC), which is
what the clause (十二) watch list is for; others are unrelated firms. An entry is removed
(移出日期) after one to three years in about half the cases.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from standins import certificates, csvfile
from standins.certificates import REGION_WEIGHTS
from standins.uscc import is_valid_uscc, make_uscc

HEADERS: list[str] = ["统一社会信用代码", "企业名称", "列入日期", "列入原因", "作出决定机关", "移出日期"]
REASONS = (
    "提交虚假材料取得行政许可",
    "虚标绿色产品，情节严重",
    "拒不履行法院判决",
    "被列入经营异常名录届满3年仍未履行相关义务",
)
FIRST, LAST = date(2018, 1, 1), date(2027, 12, 31)
FROM_CERTIFIED = 60  # listed enterprises that hold certificates
OTHERS = 240


@dataclass(frozen=True)
class Entry:
    uscc: str
    org_name: str
    listed_on: date
    reason: str
    authority: str
    removed_on: date | None


@dataclass
class Population:
    entries: list[Entry]


def build_population(seed: int = 2022) -> Population:
    rng = random.Random(f"credit_blacklist:{seed}")
    certified = sorted(
        {
            (c.enterprise.org_id, c.enterprise.name)
            for c in certificates.build_population(seed).certificates
            if is_valid_uscc(c.enterprise.org_id)
        }
    )
    firms = rng.sample(certified, FROM_CERTIFIED)
    regions, weights = list(REGION_WEIGHTS), list(REGION_WEIGHTS.values())
    firms += [
        (make_uscc(rng.choices(regions, weights)[0], 800_000 + i * 31), f"苏州失信样本{i:03d}有限公司")
        for i in range(1, OTHERS + 1)
    ]
    span = (LAST - FIRST).days
    entries = []
    for uscc, name in firms:
        listed = FIRST + timedelta(days=rng.randint(0, span))
        removed = listed + timedelta(days=rng.randint(365, 1100)) if rng.random() < 0.5 else None
        entries.append(Entry(uscc, name, listed, rng.choice(REASONS), "苏州市市场监督管理局", removed))
    entries.sort(key=lambda e: (e.uscc, e.listed_on))
    return Population(entries)


def listed_on(pop: Population, day: date) -> set[str]:
    """USCCs on the list at the end of `day`."""
    return {e.uscc for e in pop.entries if e.listed_on <= day and not (e.removed_on and e.removed_on <= day)}


def write(as_of: date, out_dir: Path, seed: int = 2022) -> Path:
    pop = build_population(seed)
    rows = (
        [
            e.uscc,
            e.org_name,
            e.listed_on.isoformat(),
            e.reason,
            e.authority,
            e.removed_on.isoformat() if e.removed_on and e.removed_on <= as_of else "",
        ]
        for e in pop.entries
        if e.listed_on <= as_of
    )
    return csvfile.save(out_dir / f"credit_blacklist_{as_of:%Y%m%d}.csv", HEADERS, rows)
