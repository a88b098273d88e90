"""Sample `organic` feed: organic-product certificates of Suzhou (GB/T 19630-2019), as CSV.

Organic certificates are valid one year and renewed yearly; a new production base spends its
first years in conversion (是否转换期 = 是), and conversion-period certificates are not organic
certificates (T03 excludes them). Multi-base certificates carry `-n` sub-certificates. As with
the other generators, a file for date D is a pure function of (population, D).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from standins import csvfile
from standins.certificates import REGION_WEIGHTS, REGIONS
from standins.uscc import make_uscc

HEADERS: list[str] = [
    "证书编号",
    "认证类别",
    "获证组织名称",
    "统一社会信用代码",
    "产品名称",
    "产品数量(吨)",
    "是否转换期",
    "认证机构名称",
    "发证日期",
    "证书有效期至",
    "证书状态",
    "基地地址",
    "更新时间",
]
BODIES = (
    ("001", "中国质量认证中心"),
    ("228", "南京国环有机产品认证中心有限公司"),
    ("196", "中绿华夏有机产品认证中心"),
    ("241", "杭州万泰认证有限公司"),
)
FIRST, LAST = date(2014, 1, 1), date(2027, 12, 31)
OPERATORS = 560
RENEWAL = 0.93
CONVERSION_YEARS = 2
_PRODUCTS = ("大米", "绿茶", "碧螺春", "蔬菜", "葡萄", "枇杷", "杨梅", "大闸蟹", "鸡蛋", "草莓")
_NAMES = ("太湖", "东山", "西山", "阳澄", "金庭", "望亭", "同里", "周庄", "锦溪", "沙溪", "董浜", "凤凰")
_KINDS = ("生产", "生产", "生产", "加工", "经营")


@dataclass(frozen=True)
class Certificate:
    cert_no: str
    kind: str
    org_name: str
    uscc: str
    region: str
    product_name: str
    output_t: str
    in_conversion: bool
    body_name: str
    issue_date: date
    expiry_date: date
    site_address: str
    is_sub: bool
    events: tuple[tuple[date, str], ...]  # (day, new status)


@dataclass
class Population:
    certificates: list[Certificate]


def build_population(seed: int = 2022) -> Population:
    rng = random.Random(f"organic:{seed}")
    regions, weights = list(REGION_WEIGHTS), list(REGION_WEIGHTS.values())
    certs: list[Certificate] = []
    serials: Counter[str] = Counter()
    span = (LAST - FIRST).days
    for i in range(1, OPERATORS + 1):
        region = rng.choices(regions, weights)[0]
        name = f"苏州{rng.choice(_NAMES)}{rng.choice(_NAMES)}有机农业{i:03d}有限公司"
        uscc = make_uscc(region, 700_000 + i * 17)
        body = rng.choice(BODIES)
        kind = rng.choice(_KINDS)
        products = "、".join(rng.sample(_PRODUCTS, rng.randint(1, 3)))
        sites = rng.choice((0, 0, 0, 0, 0, 0, 0, 0, 1, 2))
        start = FIRST + timedelta(days=int(span * rng.random() ** 0.7))
        issue, year = start, 0
        while issue <= LAST:
            serials[body[0]] += 1
            expiry = issue + timedelta(days=365)
            status_events: list[tuple[date, str]] = []
            if rng.random() < 0.03:
                status_events.append((issue + timedelta(days=rng.randint(30, 300)), rng.choice(("暂停", "撤销"))))
            status_events.append((expiry, "过期"))
            main_no = f"{body[0]}OP{issue:%y}{serials[body[0]]:05d}"
            common: dict[str, Any] = dict(
                kind=kind,
                org_name=name,
                uscc=uscc,
                region=region,
                product_name=products,
                output_t=f"{rng.randint(5, 900)}",
                in_conversion=kind == "生产" and year < CONVERSION_YEARS,
                body_name=body[1],
                issue_date=issue,
                expiry_date=expiry,
                site_address=f"江苏省苏州市{REGIONS[region]}{rng.choice(_NAMES)}村",
                events=tuple(status_events),
            )
            certs.append(Certificate(cert_no=main_no, is_sub=False, **common))
            certs.extend(Certificate(cert_no=f"{main_no}-{n}", is_sub=True, **common) for n in range(1, sites + 1))
            if any(s == "撤销" for _, s in status_events) or rng.random() >= RENEWAL:
                break
            issue, year = expiry - timedelta(days=rng.randint(0, 15)), year + 1
    certs.sort(key=lambda c: c.cert_no)
    return Population(certs)


def status_on(cert: Certificate, day: date) -> str:
    status = "有效"
    for when, new in cert.events:
        if when <= day:
            status = new
    return status


def in_force(cert: Certificate, day: date) -> bool:
    """The oracle's re-statement of dbt's is_in_force (issued <= D < expiry, 有效 on D, main certificate;
    certificates.in_force says why it is not the definition), then T03's own rule: a conversion-period
    certificate is not an organic certificate."""
    return (
        cert.issue_date <= day < cert.expiry_date
        and status_on(cert, day) == "有效"
        and not cert.is_sub
        and not cert.in_conversion
    )


def in_force_counts(pop: Population, day: date) -> dict[str, int]:
    return dict(Counter(c.region for c in pop.certificates if in_force(c, day)))


def _row(c: Certificate, as_of: date) -> list[str]:
    past = [when for when, _ in c.events if when <= as_of]
    updated = max(past) if past else c.issue_date
    return [
        c.cert_no,
        c.kind,
        c.org_name,
        c.uscc,
        c.product_name,
        c.output_t,
        "是" if c.in_conversion else "否",
        c.body_name,
        c.issue_date.isoformat(),
        c.expiry_date.isoformat(),
        status_on(c, as_of),
        c.site_address,
        f"{updated.isoformat()} 09:30:00",
    ]


def write(as_of: date, out_dir: Path, seed: int = 2022) -> Path:
    pop = build_population(seed)
    rows = (_row(c, as_of) for c in pop.certificates if c.issue_date <= as_of)
    return csvfile.save(out_dir / f"organic_{as_of:%Y%m%d}.csv", HEADERS, rows)
