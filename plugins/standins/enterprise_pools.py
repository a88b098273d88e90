"""Sample `enterprise_pools` feed: the city's leading (龙头) and high-growth (高成长型) enterprise pools.

Clause (四) focuses on 30 leading and 300 high-growth enterprises. The office fills the pools in
yearly rounds from 2022 and moves a few enterprises out; members are drawn from the enterprises of
the certificates feed (so many of them hold green certificates, which I09 counts). The file for
date D is the whole list as it stood on D (CSV, UTF-8).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from standins import certificates, csvfile

HEADERS: list[str] = ["统一社会信用代码", "企业名称", "培育库", "所在地区", "入库日期", "出库日期"]
# (round date, leading added, high-growth added)
ROUNDS: tuple[tuple[date, int, int], ...] = (
    (date(2022, 9, 20), 18, 120),
    (date(2023, 6, 15), 8, 90),
    (date(2024, 6, 18), 5, 70),
    (date(2025, 6, 20), 2, 20),
)
LEAVE_RATE = 0.04  # members that leave the pool after a while


@dataclass(frozen=True)
class Member:
    uscc: str
    name: str
    pool: str
    region: str
    entered_on: date
    left_on: date | None


def build_members(seed: int = 2022) -> list[Member]:
    rng = random.Random(f"enterprise_pools:{seed}")
    candidates = certificates.enterprises_placed_by_uscc(certificates.build_population(seed))
    rng.shuffle(candidates)
    members, pick = [], iter(candidates)
    for day, leading, growing in ROUNDS:
        for pool, n in (("龙头企业", leading), ("高成长型企业", growing)):
            for _ in range(n):
                e = next(pick)
                left = date.fromordinal(day.toordinal() + rng.randint(200, 900)) if rng.random() < LEAVE_RATE else None
                members.append(Member(e.org_id, e.name, pool, e.region, day, left))
    return members


def in_pool(m: Member, day: date) -> bool:
    return m.entered_on <= day and (m.left_on is None or m.left_on > day)


def in_force_counts(members: list[Member], day: date) -> dict[str, int]:
    return dict(Counter(m.region for m in members if in_pool(m, day)))


def write(as_of: date, out_dir: Path, seed: int = 2022) -> Path:
    rows = [
        [
            m.uscc,
            m.name,
            m.pool,
            certificates.REGIONS[m.region],
            m.entered_on.isoformat(),
            m.left_on.isoformat() if m.left_on and m.left_on <= as_of else "",
        ]
        for m in build_members(seed)
        if m.entered_on <= as_of
    ]
    return csvfile.save(out_dir / f"培育库名单_{as_of:%Y%m%d}.csv", HEADERS, rows)
