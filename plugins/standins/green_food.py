"""Sample `green_food` feed: the 江苏省绿色食品办公室 product list for Suzhou, as XLSX.

Like the certificates generator, a population of product-certification lifecycles is drawn once
from the seed; the list for date D holds every product certified on or before D whose
certificate has not been expired for more than a year, with the office's title rows above the
header and a 合计 row below. A green-food certificate covers one product and is valid three years.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from standins import xlsx
from standins.certificates import REGION_WEIGHTS, REGIONS
from standins.uscc import make_uscc

HEADERS: list[str] = [
    "企业名称",
    "统一社会信用代码",
    "企业信息码",
    "产品名称",
    "产品编号",
    "核准产量(吨)",
    "商标",
    "获证类型",
    "证书有效期起",
    "证书有效期止",
    "所在地区",
]
FIRST_GRANT, LAST_GRANT = date(2015, 1, 1), date(2027, 12, 31)
PRODUCERS = 260
RENEWAL = 0.75
KEEP_EXPIRED_DAYS = 365  # the office keeps expired products on the list for a year

_PRODUCTS = (
    "大米",
    "碧螺春茶",
    "太湖大闸蟹",
    "青虾",
    "鸡头米",
    "枇杷",
    "杨梅",
    "水蜜桃",
    "蔬菜",
    "白鱼",
    "莼菜",
    "葡萄",
    "黄桃",
    "红茶",
    "银鱼",
    "鲜鸡蛋",
)
_HEADS = "阳澄太湖东山西山洞庭金庭光福渭塘沙家浜董浜横泾临湖"
_KINDS = ("农业发展", "生态农业", "水产养殖", "茶果", "农副产品", "农业科技")


@dataclass(frozen=True)
class Producer:
    name: str
    uscc: str
    region: str
    enterprise_code: str


@dataclass(frozen=True)
class Product:
    product_code: str
    producer: Producer
    product_name: str
    approved_output_t: int
    brand: str
    grant_type: str  # 初次申报 / 续展
    valid_from: date
    valid_to: date
    district_name: str  # '' on some rows: the USCC then places it

    @property
    def true_region(self) -> str:
        return self.producer.region


@dataclass
class Population:
    products: list[Product]
    seed: int


def _add_years(d: date, years: int) -> date:
    return (
        d.replace(year=d.year + years) if not (d.month == 2 and d.day == 29) else d.replace(year=d.year + years, day=28)
    )


def build_population(seed: int = 2022) -> Population:
    rng = random.Random(f"green_food:{seed}")
    regions, weights = list(REGION_WEIGHTS), list(REGION_WEIGHTS.values())
    producers = []
    names: set[str] = set()
    for i in range(1, PRODUCERS + 1):
        region = rng.choices(regions, weights)[0]
        name = f"苏州市{rng.choice(_HEADS[::2])}{rng.choice(_HEADS[1::2])}{rng.choice(_KINDS)}有限公司"
        while name in names:
            name = name.replace("有限公司", f"{len(names) % 9 + 1}号有限公司", 1)
        names.add(name)
        producers.append(
            Producer(name, make_uscc(region, 500_000 + i * 13), region, f"GF{region}{rng.randint(15, 24):02d}{i:04d}")
        )
    serial = 0
    products: list[Product] = []
    span = (LAST_GRANT - FIRST_GRANT).days
    for producer in producers:
        for _ in range(rng.randint(1, 5)):
            start = FIRST_GRANT + timedelta(days=int(span * rng.random() ** 0.8))
            name = rng.choice(_PRODUCTS)
            output = rng.choice((50, 120, 300, 800, 1500, 4200, 12000))
            grant_type = "初次申报"
            while start <= LAST_GRANT:
                serial += 1
                valid_to = _add_years(start, 3)
                district = "" if rng.random() < 0.05 else REGIONS[producer.region]
                products.append(
                    Product(
                        f"LB-{rng.randint(10, 60):02d}-{start:%y%m}{producer.region[2:4]}{serial:04d}A",
                        producer,
                        name,
                        output,
                        f"{producer.name[3:5]}牌",
                        grant_type,
                        start,
                        valid_to,
                        district,
                    )
                )
                if rng.random() >= RENEWAL:
                    break
                start, grant_type = valid_to - timedelta(days=rng.randint(0, 30)), "续展"
    products.sort(key=lambda p: p.product_code)
    return Population(products, seed)


def in_force(product: Product, day: date) -> bool:
    """The oracle's re-statement of dbt's is_in_force for a list without a status column:
    valid_from <= D < valid_to (certificates.in_force says why it is not the definition)."""
    return product.valid_from <= day < product.valid_to


def in_force_counts(pop: Population, day: date) -> dict[str, int]:
    return dict(Counter(p.true_region for p in pop.products if in_force(p, day)))


def listed(pop: Population, as_of: date) -> list[Product]:
    return [p for p in pop.products if p.valid_from <= as_of and (as_of - p.valid_to).days <= KEEP_EXPIRED_DAYS]


def row(p: Product) -> list[str]:
    output = f"{p.approved_output_t:,}" if p.approved_output_t >= 1000 else str(p.approved_output_t)
    return [
        p.producer.name,
        p.producer.uscc,
        p.producer.enterprise_code,
        p.product_name,
        p.product_code,
        output,
        p.brand,
        p.grant_type,
        p.valid_from.isoformat(),
        p.valid_to.isoformat(),
        p.district_name,
    ]


def write(as_of: date, out_dir: Path, seed: int = 2022) -> Path:
    """The office's XLSX list for `as_of`: two title rows, the header, products, a 合计 row."""
    from openpyxl import Workbook

    pop = build_population(seed)
    products = listed(pop, as_of)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("获证产品")
    ws.append(["苏州市绿色食品获证产品名录"])
    ws.append([f"统计截至：{as_of.year}年{as_of.month}月{as_of.day}日"])
    ws.append(HEADERS)
    for p in products:
        ws.append(row(p))
    ws.append(["合计", f"{len(products)}个产品"])
    return xlsx.save(wb, out_dir / f"绿色食品获证产品名录_{as_of:%Y%m%d}.xlsx", f"{as_of}T18:00:00Z")
