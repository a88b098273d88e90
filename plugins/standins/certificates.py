"""Sample `certificates` feed for Suzhou, deterministic for a seed and an as-of date.

The model: a population of certificate *lifecycles* is drawn once from the seed (enterprises,
certification chains that renew every cycle, suspensions, withdrawals, expiries). A file for
date D is then a pure function of (population, D): every certificate issued on or before D, in
the state it had at the end of D. Two consecutive dates therefore differ by exactly the events
of the second day, and `in_force_counts` answers what the warehouse must publish, in Python,
independently of the SQL that computes it.
"""

from __future__ import annotations

import csv
import math
import os
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from standins.uscc import USCC_CHARSET, make_org_code, make_uscc

REGIONS: dict[str, str] = {
    "320582": "张家港市",
    "320581": "常熟市",
    "320585": "太仓市",
    "320583": "昆山市",
    "320509": "吴江区",
    "320506": "吴中区",
    "320507": "相城区",
    "320508": "姑苏区",
    "320571": "苏州工业园区",
    "320505": "苏州高新区",
}
# share of certified enterprises per county-level unit (manufacturing-heavy units hold more)
REGION_WEIGHTS = {
    "320583": 17,
    "320571": 15,
    "320509": 12,
    "320582": 10,
    "320581": 10,
    "320506": 9,
    "320505": 9,
    "320507": 7,
    "320585": 7,
    "320508": 4,
}

HEADERS: list[str] = [
    "证书编号",
    "证书状态",
    "认证类别",
    "认证项目代码",
    "认证项目",
    "认证依据",
    "组织名称",
    "统一社会信用代码/组织机构代码",
    "组织地址",
    "行政区划代码",
    "认证机构名称",
    "认证机构批准号",
    "颁证日期",
    "证书到期日期",
    "初次获证日期",
    "是否是子证书",
    "主认证证书号",
    "状态变更日期",
    "覆盖范围",
    "更新时间",
]


@dataclass(frozen=True)
class Program:
    name: str
    category: str
    code: str
    standard: str
    letter: str
    validity_years: int
    renewal: float  # probability a certificate is renewed at expiry
    chains: int  # certification chains drawn; calibrated to a realistic count in force on 2025-06-30


MS, PRODUCT, SERVICE = "管理体系认证", "产品认证", "服务认证"
PROGRAMS: tuple[Program, ...] = (
    Program("环境管理体系认证", MS, "A020101", "GB/T 24001-2016/ISO 14001:2015", "E", 3, 0.8, 19440),
    Program("能源管理体系认证", MS, "A030101", "GB/T 23331-2020/ISO 50001:2018", "En", 3, 0.8, 737),
    Program("质量管理体系认证", MS, "A010101", "GB/T 19001-2016/ISO 9001:2015", "Q", 3, 0.8, 8460),
    Program("食品安全管理体系认证", MS, "A040101", "GB/T 22000-2006/ISO 22000:2005", "F", 3, 0.8, 632),
    Program("危害分析与关键控制点(HACCP)体系认证", MS, "A050101", "GB/T 27341-2009", "H", 3, 0.8, 350),
    Program("良好农业规范(GAP)认证", PRODUCT, "B060101", "GB/T 20014-2008", "G", 1, 0.7, 330),
    Program("节能产品认证", PRODUCT, "B010101", "CQC 3xxx 节能认证规则", "P", 5, 0.7, 2660),
    Program("节水产品认证", PRODUCT, "B010201", "CQC 3xxx 节水认证规则", "P", 5, 0.7, 500),
    Program("低碳产品认证", PRODUCT, "B010301", "低碳产品评价方法及要求", "P", 5, 0.7, 370),
    Program("环保产品认证", PRODUCT, "B010401", "环境标志产品技术要求", "P", 5, 0.7, 400),
    Program("绿色产品认证", PRODUCT, "B020101", "GB/T 33761-2017", "P", 5, 0.7, 338),
    Program("碳足迹认证", PRODUCT, "B030101", "ISO 14067:2018", "P", 3, 0.7, 175),
    Program("商品售后服务评价认证", SERVICE, "C010101", "GB/T 27922-2011", "S", 3, 0.75, 2075),
    Program("服务认证(其他)", SERVICE, "C990101", "认证机构自有规范", "S", 3, 0.75, 1064),
)

BODIES: tuple[tuple[str, str, str], ...] = (  # (code, name, approval number)
    ("001", "中国质量认证中心", "CNCA-R-2002-001"),
    ("002", "北京世标认证中心有限公司", "CNCA-R-2002-002"),
    ("003", "中国船级社质量认证有限公司", "CNCA-R-2002-003"),
    ("005", "方圆标志认证集团有限公司", "CNCA-R-2002-005"),
    ("006", "中联认证中心(北京)有限公司", "CNCA-R-2002-006"),
    ("011", "中国建材检验认证集团股份有限公司", "CNCA-R-2002-011"),
    ("014", "北京中经科环质量认证有限公司", "CNCA-R-2002-014"),
    ("016", "华夏认证中心有限公司", "CNCA-R-2002-016"),
    ("021", "上海质量体系审核中心", "CNCA-R-2002-021"),
    ("024", "江苏九州认证有限公司", "CNCA-R-2003-024"),
    ("035", "兴原认证中心有限公司", "CNCA-R-2002-035"),
    ("102", "北京新纪源认证有限公司", "CNCA-R-2003-102"),
    ("114", "必维认证(北京)有限公司", "CNCA-R-2002-114"),
    ("117", "通标标准技术服务有限公司", "CNCA-R-2002-117"),
    ("180", "苏州市质量认证中心有限公司", "CNCA-R-2016-180"),
)

FIRST_FILE_DAY = date(2013, 1, 1)  # the platform's export starts here
CHAIN_START, CHAIN_END = date(2004, 1, 1), date(2027, 12, 31)
GROWTH = 0.085  # yearly growth of new certification chains
SUSPEND_RATE, WITHDRAW_RATE, CANCEL_RATE = 0.03, 0.005, 0.01  # per year
ENTERPRISES = 12_000
UNLOCATABLE_SHARE = 0.005

_NAME_HEADS = "华瑞恒信德隆泰康盛达宏远鑫源新天金鼎博创东方中科永安正元凯旋英特合力精工嘉和明辉晨光益丰"
_NAME_TRADES = (
    "精密机械",
    "电子科技",
    "新材料",
    "化工",
    "纺织",
    "光电",
    "汽车部件",
    "环保科技",
    "食品",
    "生物医药",
    "建材",
    "包装",
    "物流",
    "智能装备",
    "印染",
    "金属制品",
    "电器",
    "塑胶",
)
_ROADS = ("人民路", "长江路", "东环路", "学士街", "金山路", "太湖路", "解放路", "建设路", "通达路", "工业路")


@dataclass(frozen=True)
class Enterprise:
    name: str
    org_id: str  # USCC, organisation code (two spellings), 000000000 or empty
    address: str
    region: str  # county the enterprise is in
    locatable: bool  # False: nothing in its records places it (no usable id, no district)


@dataclass(frozen=True)
class Certificate:
    cert_no: str
    program: Program
    enterprise: Enterprise
    program_code: str  # the platform code, left empty on ~20% of chains as the feed does
    source_region_code: str  # what the feed says: county code, '' or the retired 320584
    body: tuple[str, str, str]
    issue_date: date
    expiry_date: date
    first_issue_date: date
    issued_at: str  # HH:MM:SS of the issue event
    is_sub: bool
    parent_cert_no: str
    events: tuple[tuple[date, str, str], ...]  # (day, new status, HH:MM:SS), sorted
    scope: str

    @property
    def true_region(self) -> str | None:
        return self.enterprise.region if self.enterprise.locatable else None


@dataclass
class Population:
    certificates: list[Certificate]
    seed: int


def _time(rng: random.Random) -> str:
    return f"{rng.randint(8, 18):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def _enterprises(rng: random.Random) -> list[Enterprise]:
    regions = list(REGION_WEIGHTS)
    weights = list(REGION_WEIGHTS.values())
    names: set[str] = set()
    out = []
    for i in range(1, ENTERPRISES + 1):
        region = rng.choices(regions, weights)[0]
        while True:
            name = f"苏州{rng.choice(_NAME_HEADS)}{rng.choice(_NAME_HEADS)}{rng.choice(_NAME_TRADES)}有限公司"
            if name not in names:
                break
            name = name.replace("苏州", f"苏州{REGIONS[region][:2]}", 1)
            if name not in names:
                break
        names.add(name)
        locatable = rng.random() >= UNLOCATABLE_SHARE
        road = f"{rng.choice(_ROADS)}{rng.randint(1, 999)}号"
        r = rng.random()
        if not locatable:
            org_id = rng.choice([make_org_code(i * 7 + 11), "000000000", ""])
            address = f"苏州市{road}"
        else:
            if r < 0.93:
                org_id = make_uscc(region, i * 7 + 11)
            elif r < 0.98:
                org_id = make_uscc("320500", i * 7 + 11)  # registered at city level: address decides
            else:
                code = make_org_code(i * 7 + 11)
                org_id = rng.choice([code, f"{code[:8]}-{code[8]}", "000000000", ""])
            address = f"江苏省苏州市{REGIONS[region]}{road}"
        out.append(Enterprise(name, org_id, address, region, locatable))
    return out


def _start_day(rng: random.Random) -> date:
    """A chain start drawn with density growing by GROWTH a year (inverse CDF of exp(g·t))."""
    span = (CHAIN_END - CHAIN_START).days / 365.25
    u = rng.random()
    years = math.log(1 + u * (math.exp(GROWTH * span) - 1)) / GROWTH
    return CHAIN_START + timedelta(days=int(years * 365.25))


def _life_events(rng: random.Random, issue: date, expiry: date) -> tuple[list[tuple[date, str, str]], bool]:
    """Status changes during one certificate's life; returns (events, terminated)."""

    def after(rate: float) -> date | None:
        days = int(rng.expovariate(rate) * 365.25) + 1
        return issue + timedelta(days=days) if issue + timedelta(days=days) < expiry else None

    events: list[tuple[date, str, str]] = []
    suspend, withdraw, cancel = after(SUSPEND_RATE), after(WITHDRAW_RATE), after(CANCEL_RATE)
    ends = [(d, s) for d, s in ((withdraw, "撤销"), (cancel, "注销")) if d]
    end = min(ends) if ends else None
    if suspend and (end is None or suspend < end[0]):
        events.append((suspend, "暂停", _time(rng)))
        back = suspend + timedelta(days=rng.randint(30, 180))
        outcome = "有效" if rng.random() < 0.7 else "撤销"
        if back < expiry and (end is None or back < end[0]):
            events.append((back, outcome, _time(rng)))
            if outcome == "撤销":
                return events, True
    if end:
        events.append((end[0], end[1], _time(rng)))
        return events, True
    events.append((expiry, "过期", "00:05:00"))
    return events, False


@lru_cache(maxsize=2)  # three feeds draw on the same enterprises; build them once per seed
def build_population(seed: int = 2022) -> Population:
    rng = random.Random(seed)
    enterprises = _enterprises(rng)
    serials: Counter[str] = Counter()
    certs: list[Certificate] = []
    for program in PROGRAMS:
        for _ in range(program.chains):
            ent = rng.choice(enterprises)
            body = rng.choice(BODIES)
            size = rng.choice("SSMML")
            office = f"/{rng.randint(1000, 9999)}" if rng.random() < 0.2 else ""
            serials[program.letter] += 1
            serial = serials[program.letter]
            first = issue = _start_day(rng)
            subs = rng.choice((1, 2, 3)) if program.category == MS and rng.random() < 0.03 else 0
            code = program.code if rng.random() >= 0.2 else ""
            for recert in range(50):
                expiry = _add_years(issue, program.validity_years) - timedelta(days=1)
                events, terminated = _life_events(rng, issue, expiry)
                issued_at = _time(rng)
                if issue >= FIRST_FILE_DAY and issue <= CHAIN_END:
                    region_code = "" if rng.random() < 0.08 or not ent.locatable else ent.region
                    if ent.region == "320509" and issue.year == 2013 and region_code and rng.random() < 0.5:
                        region_code = "320584"  # 吴江市 before it became 吴江区
                    cert_no = f"{body[0]}{issue:%y}{program.letter}{serial:05d}R{recert}{size}{office}"
                    common: dict[str, Any] = dict(
                        program=program,
                        program_code=code,
                        enterprise=ent,
                        source_region_code=region_code,
                        body=body,
                        issue_date=issue,
                        expiry_date=expiry,
                        first_issue_date=first,
                        issued_at=issued_at,
                        events=tuple(events),
                        scope=f"{program.name}范围内的{ent.name[2:-4]}相关活动",
                    )
                    certs.append(Certificate(cert_no=cert_no, is_sub=False, parent_cert_no="", **common))
                    for n in range(1, subs + 1):
                        certs.append(
                            Certificate(cert_no=f"{cert_no}-{n}", is_sub=True, parent_cert_no=cert_no, **common)
                        )
                if terminated or rng.random() >= program.renewal:
                    break
                issue = expiry - timedelta(days=rng.randint(1, 20))  # renewed a few days before expiry
                if issue > CHAIN_END:
                    break
    certs.sort(key=lambda c: c.cert_no)
    return Population(certs, seed)


def enterprises_placed_by_uscc(pop: Population, issued_before: date | None = None) -> list[Enterprise]:
    """Enterprises whose valid USCC names their county (other feeds can be joined to them by it),
    optionally only those with a certificate issued before a date; in USCC order."""
    return sorted(
        {
            c.enterprise
            for c in pop.certificates
            if c.enterprise.org_id[2:8] == c.enterprise.region
            and (issued_before is None or c.issue_date < issued_before)
        },
        key=lambda e: e.org_id,
    )


def status_on(cert: Certificate, day: date) -> str | None:
    """The certificate's status at the end of `day` (None before it was issued)."""
    if day < cert.issue_date:
        return None
    status = "有效"
    for when, new_status, _ in cert.events:
        if when > day:
            break
        status = new_status
    return status


def in_force(cert: Certificate, day: date) -> bool:
    """The oracle's "in force on D": issued <= D < expiry, 有效 on D, main certificate. The project's one
    definition is dbt's (dbt_project/macros/codes.sql: is_in_force); this is an independent re-statement
    of the same rule from the generator's own model of the data, for the tests to check the warehouse
    against, so a change to one that the other does not follow fails them."""
    return cert.issue_date <= day < cert.expiry_date and status_on(cert, day) == "有效" and not cert.is_sub


def in_force_counts(pop: Population, day: date, program: str) -> dict[str | None, int]:
    """Oracle: certificates of `program` in force on `day`, by true region (None = unlocatable)."""
    return dict(Counter(c.true_region for c in pop.certificates if c.program.name == program and in_force(c, day)))


def _row(cert: Certificate, as_of: date) -> dict[str, str]:
    past = [e for e in cert.events if e[0] <= as_of]
    last_day, last_time = (past[-1][0], past[-1][2]) if past else (cert.issue_date, cert.issued_at)
    return {
        "证书编号": cert.cert_no,
        "证书状态": status_on(cert, as_of) or "",
        "认证类别": cert.program.category,
        "认证项目代码": cert.program_code,
        "认证项目": cert.program.name,
        "认证依据": cert.program.standard,
        "组织名称": cert.enterprise.name,
        "统一社会信用代码/组织机构代码": cert.enterprise.org_id,
        "组织地址": cert.enterprise.address,
        "行政区划代码": cert.source_region_code,
        "认证机构名称": cert.body[1],
        "认证机构批准号": cert.body[2],
        "颁证日期": cert.issue_date.isoformat(),
        "证书到期日期": cert.expiry_date.isoformat(),
        "初次获证日期": cert.first_issue_date.isoformat(),
        "是否是子证书": "是" if cert.is_sub else "否",
        "主认证证书号": cert.parent_cert_no,
        "状态变更日期": last_day.isoformat(),
        "覆盖范围": cert.scope,
        "更新时间": f"{last_day.isoformat()} {last_time}",
    }


def rows(pop: Population, as_of: date) -> Iterator[dict[str, str]]:
    for cert in pop.certificates:
        if cert.issue_date <= as_of:
            yield _row(cert, as_of)


def changed_on(pop: Population, day: date) -> list[str]:
    """Certificate numbers whose row for `day` differs from the row for the day before."""
    return [c.cert_no for c in pop.certificates if c.issue_date == day or any(when == day for when, _, _ in c.events)]


def broken_rows(pop: Population, as_of: date) -> list[tuple[dict[str, str], str]]:
    """Rows a real relay sends now and then, each breaking one row rule: (row, the rule).

    Each is a copy of an EMS certificate in force, under its own number, so a row the quarantine
    let through would move T06 and the end-to-end check would see it."""
    base = next(
        c
        for c in pop.certificates
        if c.program.name == "环境管理体系认证"
        and in_force(c, as_of)
        and len(c.enterprise.org_id) == 18
        and c.source_region_code
    )
    row = _row(base, as_of)
    uscc = row["统一社会信用代码/组织机构代码"]
    wrong_check = USCC_CHARSET[(USCC_CHARSET.index(uscc[-1]) + 1) % len(USCC_CHARSET)]
    prefix = f"{as_of:%y%m%d}BRK"
    row["更新时间"] = f"{as_of} 07:00:00"  # new records of the day: an API fetch from yesterday's watermark sees them
    return [
        ({**row, "证书编号": f"{prefix}1", "统一社会信用代码/组织机构代码": uscc[:-1] + wrong_check}, "org_id"),
        (
            {
                **row,
                "证书编号": f"{prefix}2",
                "证书到期日期": row["颁证日期"][:4] + "-01-01",
                "颁证日期": row["颁证日期"][:4] + "-12-31",
            },
            "date_order",
        ),
        ({**row, "证书编号": f"{prefix}3", "颁证日期": "2024-02-30"}, "date"),
    ]


def write_csv(pop: Population, as_of: date, path: Path, broken: bool = True) -> Path:
    """The day's file: every certificate issued up to `as_of`, then (unless broken=False) the
    day's deliberately broken rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=HEADERS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows(pop, as_of))
        if broken:
            writer.writerows(row for row, _ in broken_rows(pop, as_of))
    tmp.replace(path)  # readers never see a half-written file
    return path


def write(as_of: date, out_dir: Path, seed: int = 2022) -> Path:
    return write_csv(build_population(seed), as_of, out_dir / f"certificates_{as_of:%Y%m%d}.csv")
