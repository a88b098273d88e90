"""Sample `green_manufacturing` feed: the national (工信部) and Jiangsu (省工信厅) green-manufacturing lists.

One file per list type and batch, published on the batch's announcement date and never changed
afterwards (so re-sending it is a no-op for the content-hash landing). The files carry names, not
USCCs, and drift the way the real ones do: the name, region and assessor headers change between
batches, 行业 is blank (a literal `nan`) from 2021 on, older files are GB18030 CSV and newer ones
XLSX with a title row, names come with full-width brackets, stray spaces and the
有限公司/(有限公司)/（有限公司） variants. Later national files withdraw (移出/撤销 with a date)
and rename (更名为) entries of earlier batches, repeating the entry's original batch.

Suzhou entries are of three kinds, which decide where the warehouse can place them:
- enterprises also known to the certificates feed (matched by normalised name → their USCC's county);
- names that start with a county-level unit (昆山…, 张家港…): placed by the name (or, on provincial
  lists, by the 地区 column, which names the county);
- names that only say 苏州: counted for the city under 未定位 and reported as unmatched.
Other Jiangsu cities and other provinces fill the national lists and must not be counted.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from standins import certificates, csvfile, xlsx

FACTORY, PARK = "绿色工厂名单", "绿色工业园区名单"
SUPPLY_CHAIN, DESIGN = "绿色供应链管理示范企业名单", "绿色设计产品名单"
LIST_TYPES = (FACTORY, PARK, SUPPLY_CHAIN, DESIGN)
NATIONAL, PROVINCIAL = "国家级", "省级"
# (label, announced on, level)
NATIONAL_BATCHES: tuple[tuple[str, date], ...] = (
    ("第一批", date(2017, 8, 18)),
    ("第二批", date(2018, 2, 9)),
    ("第三批", date(2018, 11, 21)),
    ("第四批", date(2019, 9, 5)),
    ("第五批", date(2020, 10, 13)),
    ("2021", date(2022, 1, 21)),
    ("2022", date(2023, 1, 18)),
    ("2023", date(2024, 1, 30)),
    ("2024", date(2025, 1, 22)),
)
PROVINCIAL_BATCHES: tuple[tuple[str, date], ...] = (
    ("2019", date(2019, 12, 30)),
    ("2020", date(2020, 12, 28)),
    ("2021", date(2021, 12, 27)),
    ("2022", date(2022, 12, 26)),
    ("2023", date(2023, 12, 25)),
    ("2024", date(2024, 12, 30)),
)
OTHER_JIANGSU = ("南京", "无锡", "常州", "南通", "扬州", "镇江", "泰州", "徐州", "盐城", "淮安")
OTHER_PROVINCES = ("浙江", "广东", "山东", "河北", "安徽", "福建", "湖北", "四川")
ASSESSORS = ("中国电子技术标准化研究院", "江苏省环境科学研究院", "中国质量认证中心", "赛迪顾问股份有限公司")
INDUSTRIES = ("电子", "机械", "纺织", "化工", "建材", "汽车", "食品", "冶金")
# county-level prefix of a name → region code (the shortest form people write)
COUNTY_PREFIX = {"张家港": "320582", "常熟": "320581", "太仓": "320585", "昆山": "320583", "吴江": "320509"}


@dataclass(frozen=True)
class Entry:
    list_type: str
    level: str
    batch: str
    announced_on: date
    name: str  # as the list writes it
    region_text: str  # the 地区 column as written
    region: str | None  # the warehouse's answer: county code, '000000', or None = not Suzhou
    key: str  # the real-world identity (one factory on two lists is one factory)
    product: tuple[str, str] = ("", "")
    withdrawn_on: date | None = None
    withdrawal_text: str = ""
    renamed_to: str = ""
    renamed_on: date | None = None


def _variant(name: str, rng: random.Random) -> str:
    """The same name as another source might write it."""
    r = rng.random()
    if r < 0.25:
        return name.replace("有限公司", "（有限公司）")
    if r < 0.4:
        return name.replace("有限公司", "(有限公司)")
    if r < 0.55:
        return name[:4] + " " + name[4:]
    if r < 0.65:
        return name.replace("有限公司", "有限公司 ")
    return name


def _headers(list_type: str, batch_index: int) -> list[str]:
    """The header drift between batches (the same columns under other names)."""
    name = (
        ("工厂名称", "企业名称", "单位名称")[min(batch_index // 3, 2)]
        if list_type == FACTORY
        else ("园区名称" if list_type == PARK else "企业名称")
    )
    region = ("地区", "地 区", "省份")[min(batch_index // 3, 2)]
    assessor = ("第三方评价机构", "第三方机构", "第三方评价机构名称")[min(batch_index // 3, 2)]
    headers = ["序号", region, name, "行业", assessor, "批次", "级别"]
    if list_type == DESIGN:
        headers += ["产品名称", "产品型号"]
    return headers + ["动态调整", "更名为"]


@dataclass
class Population:
    entries: list[Entry]  # every listing, withdrawals and renames applied where they happened


def build_population(seed: int = 2022) -> Population:
    rng = random.Random(f"green_manufacturing:{seed}")
    # enterprises the certificates feed already knows when the first list comes out: a name can only
    # be matched to an enterprise some feed has sent (a later one stays unmatched until it arrives)
    enterprises = certificates.enterprises_placed_by_uscc(
        certificates.build_population(seed), issued_before=NATIONAL_BATCHES[0][1]
    )
    rng.shuffle(enterprises)
    known = iter(enterprises)
    used: set[str] = set()
    counter = iter(range(1, 1_000_000))

    base_names: dict[str, str] = {}  # identity -> the name as its own records write it

    def suzhou_name() -> tuple[str, str, str]:
        """(name as listed, region code, identity) of a Suzhou entrant."""
        r = rng.random()
        if r < 0.6:
            e = next(known)
            base_names[e.org_id] = e.name
            return _variant(e.name, rng), e.region, e.org_id
        n = next(counter)
        trade = rng.choice(("新材料", "智能制造", "电子科技", "精密机械", "纺织科技", "光伏科技"))
        if r < 0.88:
            prefix = rng.choice(list(COUNTY_PREFIX))
            name = f"{prefix}{rng.choice('恒隆泰华瑞博通')}{n:03d}{trade}有限公司"
            return _variant(name, rng), COUNTY_PREFIX[prefix], name
        name = f"苏州{rng.choice('嘉禾益鼎源信')}{n:03d}{trade}有限公司"
        return _variant(name, rng), "000000", name

    def elsewhere(province: bool) -> tuple[str, str]:
        n = next(counter)
        place = rng.choice(OTHER_PROVINCES if province else OTHER_JIANGSU)
        return f"{place}{rng.choice('华东宏远金')}{n:03d}制造有限公司", place

    entries: list[Entry] = []
    for i, (batch, day) in enumerate(NATIONAL_BATCHES):
        growth = 1 + i * 0.25
        sizes = (
            (FACTORY, round(3 * growth), 8, 20),
            (PARK, 1 if i % 3 == 2 else 0, 1, 3),
            (SUPPLY_CHAIN, 1 + i // 3, 2, 6),
            (DESIGN, 2 + i // 2, 3, 8),
        )  # (Suzhou, rest of Jiangsu, other)
        for list_type, suzhou, jiangsu, other in sizes:
            for _ in range(suzhou):
                name, region, key = suzhou_name()
                if list_type == PARK:
                    prefix = rng.choice(list(COUNTY_PREFIX))
                    name, region, key = f"{prefix}经济技术开发区", COUNTY_PREFIX[prefix], f"park:{prefix}"
                    if key in used:
                        continue
                used.add(key)
                products = (
                    [("", "")]
                    if list_type != DESIGN
                    else [
                        (rng.choice(("家用空调器", "电动机", "光伏组件", "纺织面料")), f"GD-{next(counter):05d}")
                        for _ in range(rng.randint(1, 3))
                    ]
                )
                for product in products:
                    entries.append(Entry(list_type, NATIONAL, batch, day, name, "江苏", region, key, product))
            for n in range(jiangsu + other):
                name, place = elsewhere(province=n >= jiangsu)
                province = "江苏" if n < jiangsu else place
                product = ("", "") if list_type != DESIGN else ("电动机", f"GD-{next(counter):05d}")
                entries.append(Entry(list_type, NATIONAL, batch, day, name, province, None, name, product))
    # Jiangsu's provincial factory list: its own entrants plus some that reached the national list
    national_suzhou = [e for e in entries if e.list_type == FACTORY and e.region]
    for batch, day in PROVINCIAL_BATCHES:
        for _ in range(3):
            name, region, key = suzhou_name()
            if region == "000000":  # the provincial list always names the county
                region = rng.choice(list(COUNTY_PREFIX.values()))
            entries.append(
                Entry(FACTORY, PROVINCIAL, batch, day, name, f"苏州市{certificates.REGIONS[region]}", region, key)
            )
        for e in rng.sample([e for e in national_suzhou if e.announced_on < day and e.region != "000000"], 2):
            assert e.region is not None  # national_suzhou: placed in Suzhou
            entries.append(
                replace(
                    e,
                    level=PROVINCIAL,
                    batch=batch,
                    announced_on=day,
                    region_text=certificates.REGIONS[e.region],
                    name=_variant(base_names.get(e.key, e.key), rng),
                )
            )
        for _ in range(4):
            name, place = elsewhere(province=False)
            entries.append(Entry(FACTORY, PROVINCIAL, batch, day, name, f"{place}市", None, name))
    # later national batches withdraw and rename entries of earlier national batches
    on_provincial = {e.key for e in entries if e.level == PROVINCIAL}
    for _batch, day in NATIONAL_BATCHES[6:]:
        earlier = [
            j
            for j, e in enumerate(entries)
            if e.level == NATIONAL
            and e.list_type == FACTORY
            and e.announced_on < day
            and not e.withdrawn_on
            and not e.renamed_to
            and e.key not in on_provincial
        ]
        for j in rng.sample(earlier, 6):
            text = rng.choice(("移出", "撤销")) + rng.choice((f" {day}", f"（{day:%Y年%-m月%-d日}）"))
            entries[j] = replace(entries[j], withdrawn_on=day, withdrawal_text=text)
        for j in rng.sample([j for j in earlier if not entries[j].withdrawn_on], 4):
            new = entries[j].name.replace("有限公司", "股份有限公司").replace("（", "(").replace("）", ")")
            entries[j] = replace(entries[j], renamed_to=new.replace("股份股份", "股份"), renamed_on=day)
    return Population(entries)


def counted(e: Entry, day: date) -> bool:
    """Listed by `day`, in Suzhou, and not withdrawn by `day`."""
    return e.region is not None and e.announced_on <= day and not (e.withdrawn_on and e.withdrawn_on <= day)


def in_force_counts(pop: Population, day: date, list_type: str = FACTORY) -> dict[str, int]:
    """Oracle by region: factories/parks/supply-chain enterprises once each (national and provincial
    lists de-duplicated); design products one per product."""
    seen: dict[str, str] = {}
    products: Counter[str] = Counter()
    for e in pop.entries:
        if e.list_type == list_type and e.region is not None and counted(e, day):
            if list_type == DESIGN:
                products[e.region] += 1
            else:
                seen.setdefault(e.key, e.region)
    return dict(products) if list_type == DESIGN else dict(Counter(seen.values()))


def _file_rows(pop: Population, list_type: str, level: str, batch: str, day: date) -> list[list[str]]:
    """The rows of one file: the batch's own entries, and (national files) the withdrawals and
    renames this batch announces for earlier entries, which repeat the original batch."""
    rows = []
    for e in pop.entries:
        if e.list_type != list_type or e.level != level:
            continue
        own = e.batch == batch and e.announced_on == day
        adjusted = (e.withdrawn_on == day) or (e.renamed_on == day)
        if not (own or adjusted):
            continue
        industry = "nan" if day.year >= 2022 else INDUSTRIES[len(e.name) % len(INDUSTRIES)]
        row = [e.region_text, e.name, industry, ASSESSORS[len(e.key) % len(ASSESSORS)], e.batch, e.level]
        if list_type == DESIGN:
            row += list(e.product)
        row += [e.withdrawal_text if e.withdrawn_on == day else "", e.renamed_to if e.renamed_on == day else ""]
        rows.append(row)
    return [[str(i), *r] for i, r in enumerate(rows, start=1)]


def write(as_of: date, out_dir: Path, seed: int = 2022) -> list[Path]:
    """Every list file announced by `as_of` (each byte-identical whenever it is written)."""
    from openpyxl import Workbook

    pop = build_population(seed)
    paths = []
    files = [(t, NATIONAL, b, d, i) for i, (b, d) in enumerate(NATIONAL_BATCHES) for t in LIST_TYPES]
    files += [(FACTORY, PROVINCIAL, b, d, i) for i, (b, d) in enumerate(PROVINCIAL_BATCHES)]
    for list_type, level, batch, day, index in files:
        if day > as_of:
            continue
        rows = _file_rows(pop, list_type, level, batch, day)
        if not rows:
            continue
        headers = _headers(list_type, index if level == NATIONAL else 8)
        if level == PROVINCIAL:
            headers[1] = "地区"
        stem = f"{list_type}_{'江苏省' if level == PROVINCIAL else ''}{batch}"
        if day.year >= 2022:
            wb = Workbook(write_only=True)
            ws = wb.create_sheet("名单")
            title = f"{'江苏省' if level == PROVINCIAL else ''}{batch}{'年度' if batch.isdigit() else ''}{list_type}"
            ws.append([title])
            ws.append(headers)
            for r in rows:
                ws.append(r)
            paths.append(xlsx.save(wb, out_dir / f"{stem}.xlsx", f"{day}T09:00:00Z"))
        else:
            paths.append(
                csvfile.save(out_dir / f"{stem}.csv", headers, rows, encoding="gb18030" if index % 2 else "utf-8")
            )
    return paths
