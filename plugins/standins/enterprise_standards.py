"""Sample `enterprise_standards` feed: enterprise standards self-declared by Suzhou firms (CSV).

Most standards copy the national one (等同); some declare indicators above it (高于国家标准),
and some of those are green-product standards — the ones T10 counts when made during the policy
period and still current (现行). The source sends GB18030 text, as many Chinese platforms do.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from standins import csvfile
from standins.certificates import REGION_WEIGHTS
from standins.uscc import make_uscc

HEADERS: list[str] = [
    "标准编号",
    "标准名称",
    "企业名称",
    "统一社会信用代码",
    "发布日期",
    "对标国家标准",
    "指标水平",
    "绿色产品",
    "状态",
]
FIRST, LAST = date(2018, 1, 1), date(2027, 12, 31)
STANDARDS = 2000
POLICY_START = date(2022, 7, 19)
_PRODUCTS = (
    ("水性涂料", "GB/T 35602-2017"),
    ("纺织面料", "GB/T 35611-2017"),
    ("家用电器", "GB/T 39761-2021"),
    ("建筑玻璃", "GB/T 35604-2017"),
    ("塑料制品", "GB/T 37866-2019"),
    ("纸制品", "GB/T 36594-2018"),
    ("电线电缆", "GB/T 5023.1-2008"),
    ("精密轴承", "GB/T 307.1-2017"),
)


@dataclass(frozen=True)
class Standard:
    standard_no: str
    name: str
    org_name: str
    uscc: str
    region: str
    published_on: date
    national_standard: str
    level: str
    is_green: bool
    withdrawn_on: date | None


@dataclass
class Population:
    standards: list[Standard]


def build_population(seed: int = 2022) -> Population:
    rng = random.Random(f"enterprise_standards:{seed}")
    regions, weights = list(REGION_WEIGHTS), list(REGION_WEIGHTS.values())
    span = (LAST - FIRST).days
    out = []
    for i in range(1, STANDARDS + 1):
        region = rng.choices(regions, weights)[0]
        product, gb = rng.choice(_PRODUCTS)
        published = FIRST + timedelta(days=rng.randint(0, span))
        level = rng.choices(("等同", "高于国家标准", "低于"), (80, 18, 2))[0]
        green = rng.random() < (0.35 if level == "高于国家标准" else 0.05)
        withdrawn = published + timedelta(days=rng.randint(200, 2000)) if rng.random() < 0.1 else None
        out.append(
            Standard(
                standard_no=f"Q/{region[2:]}SZ {i:04d}-{published.year}",
                name=f"{product}（企业标准{i}）",
                org_name=f"苏州{product}{i:04d}有限公司",
                uscc=make_uscc(region, 300_000 + i * 23),
                region=region,
                published_on=published,
                national_standard=gb,
                level=level,
                is_green=green,
                withdrawn_on=withdrawn,
            )
        )
    return Population(out)


def status_on(s: Standard, day: date) -> str:
    return "废止" if s.withdrawn_on and s.withdrawn_on <= day else "现行"


def counts(s: Standard, day: date) -> bool:
    """T10: a green-product standard above the national one, made in the policy period, current on D."""
    return (
        s.is_green
        and s.level == "高于国家标准"
        and POLICY_START <= s.published_on <= day
        and status_on(s, day) == "现行"
    )


def in_force_counts(pop: Population, day: date) -> dict[str, int]:
    return dict(Counter(s.region for s in pop.standards if counts(s, day)))


def write(as_of: date, out_dir: Path, seed: int = 2022) -> Path:
    pop = build_population(seed)
    rows = (
        [
            s.standard_no,
            s.name,
            s.org_name,
            s.uscc,
            s.published_on.isoformat(),
            s.national_standard,
            s.level,
            "是" if s.is_green else "否",
            status_on(s, as_of),
        ]
        for s in pop.standards
        if s.published_on <= as_of
    )
    return csvfile.save(
        out_dir / f"企业标准_{as_of:%Y%m%d}.csv", HEADERS, rows, encoding="gb18030", lineterminator="\r\n"
    )
