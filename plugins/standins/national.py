"""National-scale `certificates` feed for benchmarks: ~5 M certificates, ~50 k changed a day.

`greencert generate --scale national` (issue 5). The Suzhou generator (certificates.py) draws one
population and keeps it in memory; at national scale that would be millions of objects, so here
every certification *chain* (a certificate and its renewals, plus sub-certificates) is a pure
function of (seed, chain index, number of chains), drawn from its own `random.Random`, and every
enterprise a pure function of (seed, enterprise index). A file is a loop over chains, in blocks
that worker processes turn into CSV text, written in chain order: memory stays bounded and a
rerun is byte-identical, whatever the number of workers.

- `write_full(D)`: every certificate issued up to D, in its state at the end of D — the format,
  headers and value formats of `certificates.write_csv` (without the deliberately broken rows).
- `write_delta(D)`: the rows of `write_full(D)` that differ from `write_full(D - 1)` — what the http
  connector fetches with `updated_since` = the previous day's watermark: certificates issued on D
  (renewals are new certificates), status changes and expiries on D, and record updates on D.

The programs, bodies, status rates and lifecycle rules are the Suzhou generator's (`_life` is
`certificates._life_events` on day ordinals, for speed); its shares of unlocatable enterprises,
city-level USCCs, organisation codes and empty 行政区划代码 too. Two differences:
- Enterprises: ~3 % in Suzhou's ten units (same region weights), the rest in a few hundred
  county-level codes of Jiangsu and other provinces, with USCCs registered there (or at their
  city) and addresses that name their city and none of Suzhou's address keywords. The source's
  行政区划代码 stays empty outside Suzhou by default: the `region_code` row rule accepts 3205xx
  only, so a non-Suzhou code would send the row to quarantine (`source_region_codes=True` writes it).
  The warehouse leaves a certificate out when its holder's USCC is registered outside Suzhou and
  no code or address places it there (int_certificates_located), so Suzhou's numbers stay Suzhou's.
- Record updates: an issued certificate is re-sent by the platform every `UPDATE_DAYS` days
  (surveillance audits, body-side corrections) until it expires or ends: 更新时间 moves, status
  and 状态变更日期 do not. The Suzhou model changes ~0.07 % of its rows a day; the issue asks for
  ~1 % (50 k of 5 M), which status events alone cannot give. So 更新时间 can be later than
  状态变更日期 here.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import random
from bisect import bisect
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from functools import cache, lru_cache
from itertools import accumulate
from multiprocessing import get_context
from pathlib import Path
from typing import NamedTuple

from standins.certificates import (
    _NAME_HEADS,
    _NAME_TRADES,
    _ROADS,
    BODIES,
    CANCEL_RATE,
    CHAIN_END,
    FIRST_FILE_DAY,
    HEADERS,
    MS,
    PROGRAMS,
    REGION_WEIGHTS,
    REGIONS,
    SUSPEND_RATE,
    UNLOCATABLE_SHARE,
    WITHDRAW_RATE,
    Program,
    _add_years,
    _start_day,
)
from standins.uscc import make_org_code, make_uscc

CHAINS = 3_600_000  # default national scale: ~5 M rows on 2025-06-30 (the Suzhou generator: 37,535 chains)
ENTERPRISES_PER_CHAIN = 0.32  # as in Suzhou: 12,000 enterprises for 37,535 chains
SUZHOU_SHARE = 0.03  # enterprises in Suzhou's ten county-level units
UPDATE_DAYS = (25, 55)  # a record is re-sent every P days, P uniform in this range, phase uniform in 1..P
BLOCK = 20_000  # chains per unit of work (a worker's CSV text for a block: ~10 MB)

# (city code prefix, province, city, districts (xx02..), county-level cities (xx81..), weight)
CITIES: tuple[tuple[str, str, str, int, int, float], ...] = (
    ("3201", "江苏省", "南京", 11, 0, 6),
    ("3202", "江苏省", "无锡", 5, 2, 6),
    ("3203", "江苏省", "徐州", 5, 3, 3),
    ("3204", "江苏省", "常州", 5, 1, 4),
    ("3206", "江苏省", "南通", 3, 4, 4),
    ("3207", "江苏省", "连云港", 3, 3, 1.5),
    ("3208", "江苏省", "淮安", 4, 3, 1.5),
    ("3209", "江苏省", "盐城", 3, 6, 2),
    ("3210", "江苏省", "扬州", 3, 3, 2),
    ("3211", "江苏省", "镇江", 3, 3, 1.5),
    ("3212", "江苏省", "泰州", 3, 3, 2),
    ("3213", "江苏省", "宿迁", 2, 3, 1),
    ("1101", "", "北京", 16, 0, 8),
    ("1201", "", "天津", 16, 0, 3),
    ("3101", "", "上海", 16, 0, 9),
    ("5001", "", "重庆", 26, 0, 3),
    ("1301", "河北省", "石家庄", 8, 4, 2),
    ("1401", "山西省", "太原", 6, 3, 1),
    ("1501", "内蒙古自治区", "呼和浩特", 4, 0, 0.5),
    ("2101", "辽宁省", "沈阳", 10, 1, 2),
    ("2102", "辽宁省", "大连", 7, 3, 2),
    ("2201", "吉林省", "长春", 7, 3, 1),
    ("2301", "黑龙江省", "哈尔滨", 9, 3, 1.5),
    ("3301", "浙江省", "杭州", 10, 2, 6),
    ("3302", "浙江省", "宁波", 6, 3, 5),
    ("3303", "浙江省", "温州", 4, 4, 3),
    ("3306", "浙江省", "绍兴", 3, 3, 2),
    ("3307", "浙江省", "金华", 2, 4, 2),
    ("3401", "安徽省", "合肥", 4, 1, 3),
    ("3501", "福建省", "福州", 6, 1, 2),
    ("3502", "福建省", "厦门", 6, 0, 2),
    ("3505", "福建省", "泉州", 4, 4, 2),
    ("3601", "江西省", "南昌", 6, 0, 1.5),
    ("3701", "山东省", "济南", 10, 0, 3),
    ("3702", "山东省", "青岛", 7, 3, 4),
    ("3706", "山东省", "烟台", 4, 4, 2),
    ("3707", "山东省", "潍坊", 4, 6, 2),
    ("4101", "河南省", "郑州", 6, 5, 3),
    ("4201", "湖北省", "武汉", 13, 0, 4),
    ("4301", "湖南省", "长沙", 6, 2, 3),
    ("4401", "广东省", "广州", 11, 0, 7),
    ("4403", "广东省", "深圳", 9, 0, 8),
    ("4404", "广东省", "珠海", 3, 0, 1.5),
    ("4406", "广东省", "佛山", 5, 0, 4),
    ("4413", "广东省", "惠州", 3, 0, 1.5),
    ("4501", "广西壮族自治区", "南宁", 7, 0, 1.5),
    ("4601", "海南省", "海口", 4, 0, 0.5),
    ("5101", "四川省", "成都", 12, 5, 5),
    ("5201", "贵州省", "贵阳", 6, 1, 1),
    ("5301", "云南省", "昆明", 7, 1, 1.5),
    ("5401", "西藏自治区", "拉萨", 2, 0, 0.1),
    ("6101", "陕西省", "西安", 11, 0, 3),
    ("6201", "甘肃省", "兰州", 5, 0, 0.5),
    ("6301", "青海省", "西宁", 4, 0, 0.3),
    ("6401", "宁夏回族自治区", "银川", 3, 1, 0.3),
    ("6501", "新疆维吾尔自治区", "乌鲁木齐", 7, 0, 0.5),
)


def _regions() -> tuple[dict[str, tuple[str, str]], dict[str, float]]:
    """Every region: code -> (address up to the county or city, the city's name in company names),
    and code -> share of enterprises (Suzhou's by REGION_WEIGHTS, the rest by city, even within it)."""
    places = {code: (f"江苏省苏州市{name}", "苏州") for code, name in REGIONS.items()}
    total = sum(REGION_WEIGHTS.values())
    weights = {code: SUZHOU_SHARE * w / total for code, w in REGION_WEIGHTS.items()}
    outside = sum(c[5] for c in CITIES)
    for prefix, province, city, districts, cities, weight in CITIES:
        codes = [f"{prefix}{k:02d}" for k in range(2, 2 + districts)] + [f"{prefix}{k}" for k in range(81, 81 + cities)]
        for code in codes:
            places[code] = (f"{province}{city}市", city)
            weights[code] = (1 - SUZHOU_SHARE) * weight / outside / len(codes)
    return places, weights


_PLACES, _WEIGHTS = _regions()
_REGION_CODES = list(_WEIGHTS)
_REGION_CUM = list(accumulate(_WEIGHTS.values()))
_PROGRAM_CUM = list(accumulate(p.chains for p in PROGRAMS))
_NAMES = len(_NAME_HEADS) ** 3 * len(_NAME_TRADES)  # distinct company names per overflow round
_NAME_STEP = 1_000_003  # coprime with _NAMES: j -> name is a bijection

_ISO_BASE = date(2000, 1, 1).toordinal()
_ISO = [date.fromordinal(_ISO_BASE + k).isoformat() for k in range((date(2045, 1, 1) - date(2000, 1, 1)).days)]
_FIRST_FILE_DAY = FIRST_FILE_DAY.toordinal()


def region_codes() -> dict[str, float]:
    """Every region code an enterprise can be registered in, with its share of enterprises."""
    return dict(_WEIGHTS)


def enterprises_for(chains: int) -> int:
    return max(10, round(chains * ENTERPRISES_PER_CHAIN))


@lru_cache(maxsize=4096)  # a chain's enterprise is near its index: neighbouring chains share the cache
def enterprise(seed: int, j: int) -> tuple[str, str, str, str, bool]:
    """Enterprise j: (name, org_id, address, region code, locatable), a pure function of (seed, j).
    Names are unique (j -> name is a bijection); org ids are unique (their serial is 7j + 11)."""
    x = int.from_bytes(hashlib.blake2b(f"{seed}:{j}".encode(), digest_size=16).digest(), "little")
    x, u = divmod(x, 1 << 32)
    region = _REGION_CODES[min(bisect(_REGION_CUM, u / (1 << 32) * _REGION_CUM[-1]), len(_REGION_CODES) - 1)]
    x, loc = divmod(x, 10_000)
    x, kind = divmod(x, 10_000)
    x, pick = divmod(x, 4)
    x, road = divmod(x, len(_ROADS))
    x, number = divmod(x, 999)
    place, city = _PLACES[region]
    round_, k = divmod(j, _NAMES)
    k = (k * _NAME_STEP + seed) % _NAMES
    k, trade = divmod(k, len(_NAME_TRADES))
    k, a = divmod(k, len(_NAME_HEADS))
    c, b = divmod(k, len(_NAME_HEADS))
    name = f"{city}{_NAME_HEADS[a]}{_NAME_HEADS[b]}{_NAME_HEADS[c]}{_NAME_TRADES[trade]}{round_ or ''}有限公司"
    street = f"{_ROADS[road]}{number + 1}号"
    serial = j * 7 + 11
    if loc < UNLOCATABLE_SHARE * 10_000:  # nothing in its records places it (as in Suzhou)
        org_id = (make_org_code(serial), "000000000", "", make_org_code(serial))[pick]
        return name, org_id, f"{city}市{street}", region, False
    if kind < 9_300:
        org_id = make_uscc(region, serial)
    elif kind < 9_800:
        org_id = make_uscc(f"{region[:4]}00", serial)  # registered at city level: address decides
    else:
        code = make_org_code(serial)
        org_id = (code, f"{code[:8]}-{code[8]}", "000000000", "")[pick]
    return name, org_id, f"{place}{street}", region, True


@cache
def _expiry(issue: int, years: int) -> int:
    """The day before the issue day's anniversary `years` later (certificates' rule), as ordinals."""
    return (_add_years(date.fromordinal(issue), years) - timedelta(days=1)).toordinal()


def _clock(rng: random.Random) -> str:
    """HH:MM:SS between 08:00:00 and 18:59:59 (certificates._time's range, one draw)."""
    t = int(rng.random() * 39_600)
    return f"{8 + t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}"


def _life(rng: random.Random, issue: int, expiry: int) -> tuple[tuple[tuple[int, str, str], ...], bool]:
    """certificates._life_events on day ordinals: status changes during one certificate's life
    (the last one ends it: expiry, withdrawal or cancellation); returns (events, terminated)."""

    def after(rate: float) -> int | None:
        day = issue + int(rng.expovariate(rate) * 365.25) + 1
        return day if day < expiry else None

    suspend, withdraw, cancel = after(SUSPEND_RATE), after(WITHDRAW_RATE), after(CANCEL_RATE)
    ends = [(d, s) for d, s in ((withdraw, "撤销"), (cancel, "注销")) if d]
    end = min(ends) if ends else None
    events: list[tuple[int, str, str]] = []
    if suspend and (end is None or suspend < end[0]):
        events.append((suspend, "暂停", _clock(rng)))
        back = suspend + 30 + int(rng.random() * 151)
        outcome = "有效" if rng.random() < 0.7 else "撤销"
        if back < expiry and (end is None or back < end[0]):
            events.append((back, outcome, _clock(rng)))
            if outcome == "撤销":
                return tuple(events), True
    if end:
        events.append((end[0], end[1], _clock(rng)))
        return tuple(events), True
    events.append((expiry, "过期", "00:05:00"))
    return tuple(events), False


class Head(NamedTuple):
    """What a chain's certificates share."""

    enterprise: int
    program: Program
    program_code: str  # the platform code, left empty on ~20% of chains as the feed does
    body: tuple[str, str, str]


class Cert(NamedTuple):
    """A certificate of a chain; days are date ordinals."""

    cert_no: str
    is_sub: bool
    parent_cert_no: str
    issue: int
    expiry: int
    first_issue: int
    issued_at: str  # HH:MM:SS
    events: tuple[tuple[int, str, str], ...]  # (day, new status, HH:MM:SS), sorted; the last ends its life
    update_first: int  # record updates: update_first, + update_step, ... up to update_last (none if first > last)
    update_step: int
    update_last: int
    update_time: str
    no_region_code: bool  # the source leaves 行政区划代码 empty
    retired_code: bool  # in 2013 吴江区's certificates may carry 320584 (吴江市)


def chain(seed: int, i: int, chains: int, until: date = CHAIN_END) -> tuple[Head, list[Cert]]:
    """Chain i of `chains`: what its certificates share and those issued up to `until` (from
    FIRST_FILE_DAY on). Each certificate's draws come before the next one's, so the certificates
    issued by a day do not depend on `until`: a row of chain i for D is a pure function of
    (seed, i, chains, D). The lifecycle is the Suzhou generator's (build_population)."""
    rng = random.Random(f"greencert-national:{seed}:{i}")
    program = PROGRAMS[bisect(_PROGRAM_CUM, rng.random() * _PROGRAM_CUM[-1])]
    ents = enterprises_for(chains)
    j = (i + int(rng.random() * 64)) * ents // chains % ents  # an enterprise's chains are neighbours
    body = BODIES[int(rng.random() * len(BODIES))]
    size = "SSMML"[int(rng.random() * 5)]
    office = f"/{1000 + int(rng.random() * 9000)}" if rng.random() < 0.2 else ""
    first = _start_day(rng)
    subs = 1 + int(rng.random() * 3) if program.category == MS and rng.random() < 0.03 else 0
    head = Head(j, program, program.code if rng.random() >= 0.2 else "", body)
    certs: list[Cert] = []
    if first > until:
        return head, certs
    first_day, letter, years = first.toordinal(), program.letter, program.validity_years
    issue_day, end_day = first_day, min(until, CHAIN_END).toordinal()
    for recert in range(50):
        expiry_day = _expiry(issue_day, years)
        events, terminated = _life(rng, issue_day, expiry_day)
        issued_at = _clock(rng)
        if issue_day >= _FIRST_FILE_DAY:
            yy = _ISO[issue_day - _ISO_BASE][2:4]
            no_code, retired = rng.random() < 0.08, yy == "13" and rng.random() < 0.5
            step = UPDATE_DAYS[0] + int(rng.random() * (UPDATE_DAYS[1] - UPDATE_DAYS[0] + 1))
            start = issue_day + 1 + int(rng.random() * step)
            update_time = _clock(rng)
            end = events[-1][0]
            last = start + (end - 1 - start) // step * step if start < end else start - 1
            cert_no = f"{body[0]}{yy}{letter}{i:07d}R{recert}{size}{office}"
            certs.append(
                Cert(
                    cert_no,
                    False,
                    "",
                    issue_day,
                    expiry_day,
                    first_day,
                    issued_at,
                    events,
                    start,
                    step,
                    last,
                    update_time,
                    no_code,
                    retired,
                )
            )
            for n in range(1, subs + 1):
                certs.append(
                    Cert(
                        f"{cert_no}-{n}",
                        True,
                        cert_no,
                        issue_day,
                        expiry_day,
                        first_day,
                        issued_at,
                        events,
                        start,
                        step,
                        last,
                        update_time,
                        no_code,
                        retired,
                    )
                )
        if terminated or rng.random() >= program.renewal:
            break
        issue_day = expiry_day - 1 - int(rng.random() * 20)  # renewed a few days before expiry
        if issue_day > end_day:
            break
    return head, certs


def changed(cert: Cert, day: int) -> bool:
    """Whether the certificate's row for `day` (an ordinal) differs from the day before's: issued,
    a status event or a record update on that day."""
    if cert.issue == day or (
        cert.update_first <= day <= cert.update_last and (day - cert.update_first) % cert.update_step == 0
    ):
        return True
    return any(d == day for d, _, _ in cert.events)


@lru_cache(maxsize=4096)
def _shared(seed: int, head: Head) -> tuple[list[str], str, bool]:
    """A chain's row values that do not change (HEADERS order, 证书状态 and the dates left out), its
    enterprise's region and whether anything places it."""
    name, org_id, address, region, locatable = enterprise(seed, head.enterprise)
    program, body = head.program, head.body
    scope = f"{program.name}范围内的{name[len(_PLACES[region][1]) : -4]}相关活动"
    return (
        [
            program.category,
            head.program_code,
            program.name,
            program.standard,
            name,
            org_id,
            address,
            body[1],
            body[2],
            scope,
        ],
        region,
        locatable,
    )


def source_region_code(cert: Cert, region: str, locatable: bool, source_region_codes: bool = False) -> str:
    """行政区划代码 as the source sends it (certificates.build_population's rule). A code outside
    Suzhou is left empty unless asked for: the region_code row rule accepts 3205xx only."""
    if cert.no_region_code or not locatable:
        return ""
    if region == "320509" and cert.retired_code:
        return "320584"  # 吴江市 before it became 吴江区
    return region if source_region_codes or region in REGIONS else ""


def row(seed: int, head: Head, cert: Cert, day: int, source_region_codes: bool = False) -> list[str]:
    """The certificate's row at the end of `day` (an ordinal), in HEADERS order, formatted as
    certificates._row formats it; 更新时间 is the later of the last status event and the last update."""
    shared, region, locatable = _shared(seed, head)
    status, last_day, last_time = "有效", cert.issue, cert.issued_at
    for d, s, t in cert.events:
        if d > day:
            break
        status, last_day, last_time = s, d, t
    status_day = last_day
    start, last = cert.update_first, cert.update_last
    if start <= day and start <= last:
        u = start + (min(day, last) - start) // cert.update_step * cert.update_step
        if (u, cert.update_time) > (last_day, last_time):
            last_day, last_time = u, cert.update_time
    iso = _ISO
    return [
        cert.cert_no,
        status,
        *shared[:7],
        source_region_code(cert, region, locatable, source_region_codes),
        *shared[7:9],
        iso[cert.issue - _ISO_BASE],
        iso[cert.expiry - _ISO_BASE],
        iso[cert.first_issue - _ISO_BASE],
        "是" if cert.is_sub else "否",
        cert.parent_cert_no,
        iso[status_day - _ISO_BASE],
        shared[9],
        f"{iso[last_day - _ISO_BASE]} {last_time}",
    ]


def rows(
    day: date,
    seed: int = 2022,
    chains: int | None = None,
    delta: bool = False,
    *,
    lo: int = 0,
    hi: int | None = None,
    source_region_codes: bool = False,
) -> Iterator[list[str]]:
    """The rows of chains [lo, hi) for `day`: every certificate issued up to it (or, with delta,
    only those whose row changed on it), in chain order."""
    chains = CHAINS if chains is None else chains
    d = day.toordinal()
    for i in range(lo, chains if hi is None else hi):
        head, certs = chain(seed, i, chains, day)
        for cert in certs:
            if not delta or changed(cert, d):
                yield row(seed, head, cert, d, source_region_codes)


def _block(task: tuple[date, int, int, bool, int, int, bool]) -> tuple[str, int]:
    """CSV text of one block of chains, and its number of rows."""
    day, seed, chains, delta, lo, hi, source_region_codes = task
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    n = 0
    for values in rows(day, seed, chains, delta, lo=lo, hi=hi, source_region_codes=source_region_codes):
        writer.writerow(values)
        n += 1
    return buf.getvalue(), n


def _texts(tasks: list[tuple[date, int, int, bool, int, int, bool]], workers: int) -> Iterator[tuple[str, int]]:
    if workers <= 1 or len(tasks) <= 1:
        yield from map(_block, tasks)
        return
    with get_context("fork").Pool(min(workers, len(tasks))) as pool:
        yield from pool.imap(_block, tasks)  # in order: the bytes do not depend on the workers


def write(
    day: date,
    path: Path,
    seed: int = 2022,
    chains: int | None = None,
    *,
    delta: bool = False,
    workers: int | None = None,
    source_region_codes: bool = False,
    on_block: Callable[[int, int], None] | None = None,
) -> tuple[Path, int]:
    """write_full or (delta=True) write_delta, returning the path and the number of rows. Blocks of
    BLOCK chains are turned into CSV text by `workers` processes (default: the CPUs, up to 8);
    `on_block(chains, rows)` is called as each block is written, for progress."""
    chains = CHAINS if chains is None else chains
    workers = min(os.cpu_count() or 1, 8) if workers is None else workers
    tasks = [
        (day, seed, chains, delta, lo, min(lo + BLOCK, chains), source_region_codes) for lo in range(0, chains, BLOCK)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    n = 0
    try:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n").writerow(HEADERS)
            for (text, count), (_, _, _, _, lo, hi, _) in zip(_texts(tasks, workers), tasks, strict=True):
                fh.write(text)
                n += count
                if on_block:
                    on_block(hi - lo, count)
        tmp.replace(path)  # readers never see a half-written file
    finally:
        tmp.unlink(missing_ok=True)
    return path, n


def write_full(
    as_of: date,
    path: Path,
    seed: int = 2022,
    chains: int | None = None,
    *,
    workers: int | None = None,
    source_region_codes: bool = False,
) -> Path:
    """Every certificate issued up to `as_of`, in its state at the end of `as_of`."""
    return write(as_of, path, seed, chains, workers=workers, source_region_codes=source_region_codes)[0]


def write_delta(
    day: date,
    path: Path,
    seed: int = 2022,
    chains: int | None = None,
    *,
    workers: int | None = None,
    source_region_codes: bool = False,
) -> Path:
    """The rows of write_full(day) that are not in write_full(day - 1): what changed on `day`."""
    return write(day, path, seed, chains, delta=True, workers=workers, source_region_codes=source_region_codes)[0]
