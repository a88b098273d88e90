"""Sample `certification_bodies` feed: the CNCA body directory plus the city's register of bodies
set up in or brought into Suzhou (CSV). T11 counts bodies with a green-certification scope brought
in during the policy period whose approval is still valid.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from standins import csvfile
from standins.certificates import REGIONS
from standins.uscc import make_uscc

HEADERS: list[str] = [
    "机构名称",
    "批准号",
    "统一社会信用代码",
    "业务范围",
    "批准有效期至",
    "在苏设立/引进日期",
    "在苏机构地址",
]
GREEN_SCOPES = ("绿色产品认证", "有机产品认证", "低碳产品认证", "节能产品认证", "绿色建材产品认证")
OTHER_SCOPES = ("质量管理体系认证", "环境管理体系认证", "职业健康安全管理体系认证", "服务认证", "信息安全管理体系认证")
POLICY_START = date(2022, 7, 19)
BODIES = 140


@dataclass(frozen=True)
class Body:
    name: str
    approval_no: str
    uscc: str
    scopes: tuple[str, ...]
    approval_valid_to: date
    introduced_on: date | None
    region: str | None
    address: str


@dataclass
class Population:
    bodies: list[Body]


def build_population(seed: int = 2022) -> Population:
    rng = random.Random(f"certification_bodies:{seed}")
    out = []
    for i in range(1, BODIES + 1):
        scopes = tuple(rng.sample(OTHER_SCOPES, rng.randint(1, 3)))
        if rng.random() < 0.35:
            scopes += tuple(rng.sample(GREEN_SCOPES, rng.randint(1, 2)))
        in_suzhou = rng.random() < 0.3
        introduced = date(2016, 1, 1) + timedelta(days=rng.randint(0, 4000)) if in_suzhou else None
        region = rng.choice(list(REGIONS)) if in_suzhou else None
        out.append(
            Body(
                name=f"{rng.choice(('华信', '中正', '国联', '恒标', '泰和', '汇通'))}认证{i:03d}有限公司",
                approval_no=f"CNCA-R-{rng.randint(2002, 2023)}-{i:03d}",
                uscc=make_uscc(rng.choice(("110000", "310000", "320000", "330100")), 600_000 + i * 29),
                scopes=scopes,
                approval_valid_to=date(2024, 1, 1) + timedelta(days=rng.randint(0, 2500)),
                introduced_on=introduced,
                region=region,
                address=f"江苏省苏州市{REGIONS[region]}科技园{rng.randint(1, 99)}号" if region else "",
            )
        )
    return Population(out)


def counts(b: Body, day: date) -> bool:
    """T11: a green-certification scope, brought into Suzhou in the policy period, approval valid on D."""
    return (
        any(s in GREEN_SCOPES for s in b.scopes)
        and b.introduced_on is not None
        and POLICY_START <= b.introduced_on <= day < b.approval_valid_to
    )


def in_force_counts(pop: Population, day: date) -> dict[str, int]:
    return dict(Counter(b.region for b in pop.bodies if b.region is not None and counts(b, day)))


def write(as_of: date, out_dir: Path, seed: int = 2022) -> Path:
    pop = build_population(seed)

    def row(b: Body) -> list[str]:
        shown = b.introduced_on if b.introduced_on and b.introduced_on <= as_of else None
        return [
            b.name,
            b.approval_no,
            b.uscc,
            ";".join(b.scopes),
            b.approval_valid_to.isoformat(),
            shown.isoformat() if shown else "",
            b.address if shown else "",
        ]

    return csvfile.save(out_dir / f"certification_bodies_{as_of:%Y%m%d}.csv", HEADERS, map(row, pop.bodies))
