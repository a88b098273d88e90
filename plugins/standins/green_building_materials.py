"""Sample `green_building_materials` feed: graded green building-material certificates (CSV).

Certificates are valid five years; the grade is written 一星级/二星级/三星级 or with stars
(★, ★★, ★★★) depending on the body; the plant's address decides the region. The source sends
no update time, so a file for date D simply shows each certificate's state on D.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from standins import csvfile
from standins.certificates import REGION_WEIGHTS, REGIONS
from standins.uscc import make_uscc

HEADERS: list[str] = [
    "证书编号",
    "企业名称",
    "统一社会信用代码",
    "产品类别",
    "产品名称/型号",
    "认证等级",
    "认证机构",
    "发证日期",
    "有效期至",
    "证书状态",
    "生产地址",
]
CATEGORIES = (
    "预拌混凝土",
    "建筑玻璃",
    "墙体材料",
    "保温材料",
    "陶瓷砖",
    "卫生陶瓷",
    "防水密封材料",
    "建筑涂料",
    "门窗幕墙",
)
BODIES = ("中国建材检验认证集团股份有限公司", "中国质量认证中心", "北京国建联信认证中心有限公司")
GRADES = (("一星级", "★"), ("二星级", "★★"), ("三星级", "★★★"))
FIRST, LAST = date(2019, 6, 1), date(2027, 12, 31)  # graded certification started in 2019
CERTIFICATES = 180


@dataclass(frozen=True)
class Certificate:
    cert_no: str
    org_name: str
    uscc: str
    region: str
    category: str
    model: str
    grade: str
    body: str
    issue_date: date
    expiry_date: date
    revoked_on: date | None
    plant_address: str


@dataclass
class Population:
    certificates: list[Certificate]


def build_population(seed: int = 2022) -> Population:
    rng = random.Random(f"green_building_materials:{seed}")
    regions, weights = list(REGION_WEIGHTS), list(REGION_WEIGHTS.values())
    span = (LAST - FIRST).days
    certs = []
    for i in range(1, CERTIFICATES + 1):
        region = rng.choices(regions, weights)[0]
        issue = FIRST + timedelta(days=int(span * rng.random() ** 0.9))
        expiry = (
            issue.replace(year=issue.year + 5) - timedelta(days=1)
            if not (issue.month == 2 and issue.day == 29)
            else date(issue.year + 5, 2, 28)
        )
        revoked = issue + timedelta(days=rng.randint(60, 1500)) if rng.random() < 0.04 else None
        grade = rng.choice(GRADES)[1 if rng.random() < 0.3 else 0]
        category = rng.choice(CATEGORIES)
        certs.append(
            Certificate(
                cert_no=f"GBM{issue:%Y}{i:05d}",
                org_name=f"苏州{category[:2]}建材{i:03d}有限公司",
                uscc=make_uscc(region, 900_000 + i * 19),
                region=region,
                category=category,
                model=f"{category}-{rng.choice('ABCDEFGH')}{rng.randint(100, 999)}",
                grade=grade,
                body=rng.choice(BODIES),
                issue_date=issue,
                expiry_date=expiry,
                revoked_on=revoked if revoked and revoked < expiry else None,
                plant_address=f"江苏省苏州市{REGIONS[region]}工业路{rng.randint(1, 300)}号",
            )
        )
    return Population(certs)


def status_on(cert: Certificate, day: date) -> str:
    if cert.revoked_on and cert.revoked_on <= day:
        return "撤销"
    return "过期" if day >= cert.expiry_date else "有效"


def in_force(cert: Certificate, day: date) -> bool:
    return cert.issue_date <= day < cert.expiry_date and status_on(cert, day) == "有效"


def in_force_counts(pop: Population, day: date) -> dict[str, int]:
    return dict(Counter(c.region for c in pop.certificates if in_force(c, day)))


def write(as_of: date, out_dir: Path, seed: int = 2022) -> Path:
    pop = build_population(seed)
    rows = (
        [
            c.cert_no,
            c.org_name,
            c.uscc,
            c.category,
            c.model,
            c.grade,
            c.body,
            c.issue_date.isoformat(),
            c.expiry_date.isoformat(),
            status_on(c, as_of),
            c.plant_address,
        ]
        for c in sorted(pop.certificates, key=lambda c: c.cert_no)
        if c.issue_date <= as_of
    )
    # this source sends a BOM and Windows line ends
    return csvfile.save(
        out_dir / f"绿色建材产品分级认证_{as_of:%Y%m%d}.csv", HEADERS, rows, encoding="utf-8-sig", lineterminator="\r\n"
    )
