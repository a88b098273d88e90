"""`greencert generate --scale national`: the certificates contract at national scale, streamed,
deterministic, and a delta file that is exactly what changed since the day before."""

from __future__ import annotations

import csv
import re
from collections import Counter
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import pytest

from greencert import cli, feeds, settings
from standins import certificates as gen
from standins import national
from standins.uscc import is_valid_org_code, is_valid_uscc

D = date(2025, 6, 30)
CHAINS = 3_000
CERT_NO = re.compile(r"^[0-9A-Z][0-9A-Z/()-]*$")  # quality/row_rules.py CHECKS['cert_no'] on upper()
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@cache
def _file(day: date, delta: bool = False, chains: int = CHAINS, seed: int = 2022) -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="national-")) / f"{'delta' if delta else 'full'}_{day}.csv"
    return national.write(day, path, seed, chains, delta=delta, workers=1)[0]


def _rows(path: Path) -> list[tuple[str, ...]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [tuple(r) for r in csv.reader(fh)][1:]


def _dicts(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_same_inputs_same_bytes_whatever_the_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = national.write_full(D, tmp_path / "a.csv", chains=CHAINS, workers=1)
    monkeypatch.setattr(national, "BLOCK", 700)  # several blocks, out of order across two processes
    two = national.write_full(D, tmp_path / "b.csv", chains=CHAINS, workers=2)
    assert one.read_bytes() == two.read_bytes() == _file(D).read_bytes()
    delta = national.write_delta(D, tmp_path / "c.csv", chains=CHAINS, workers=2)
    assert delta.read_bytes() == _file(D, True).read_bytes()
    assert national.write_full(D, tmp_path / "d.csv", seed=7, chains=CHAINS).read_bytes() != one.read_bytes()
    assert not list(tmp_path.glob(".*.part"))


def test_header_and_format_are_the_suzhou_contract() -> None:
    path = _file(D)
    raw = path.read_bytes()
    assert b"\r" not in raw and not raw.startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    assert header == gen.HEADERS == [c.headers[0] for c in feeds.get("certificates").columns]
    # written the way certificates.write_csv writes (csv.DictWriter, "\n"): same bytes
    rows = _dicts(path)
    again = path.with_name("again.csv")
    with again.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=gen.HEADERS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    assert again.read_bytes() == raw


@pytest.mark.parametrize("day", [D + timedelta(days=1), D, date(2024, 2, 29), date(2016, 1, 1)])
def test_delta_is_exactly_what_changed_since_the_day_before(day: date) -> None:
    full, before, delta = _rows(_file(day)), _rows(_file(day - timedelta(days=1))), _rows(_file(day, True))
    assert len(delta) == len(set(delta))
    assert set(delta) == set(full) - set(before)
    assert delta == [r for r in full if r in set(delta)]  # in the full file's order
    stamp = day.isoformat()
    assert all(r[-1].startswith(stamp) for r in delta)  # 更新时间 says the day: updated_since finds them


def test_rows_obey_the_contract() -> None:
    rows = _dicts(_file(date(2027, 12, 31)))  # every certificate there will be
    numbers = [r["证书编号"] for r in rows]
    assert len(numbers) == len(set(numbers))
    assert all(CERT_NO.match(n.upper()) for n in numbers)
    by_no = {r["证书编号"]: r for r in rows}
    statuses = Counter(r["证书状态"] for r in rows)
    assert set(statuses) == set(feeds.get("certificates").vocabularies["status"])
    for r in rows:
        org = r["统一社会信用代码/组织机构代码"]
        assert org in ("", "000000000") or (is_valid_uscc(org) if len(org) == 18 else is_valid_org_code(org)), org
        assert r["颁证日期"] <= r["证书到期日期"] and r["初次获证日期"] <= r["颁证日期"]
        assert r["颁证日期"] <= r["状态变更日期"] <= r["更新时间"][:10] and TIMESTAMP.match(r["更新时间"])
        assert r["行政区划代码"] in set(gen.REGIONS) | {"", "320584"}  # the region_code row rule: 3205xx
        if r["是否是子证书"] == "是":
            assert by_no[r["主认证证书号"]]["是否是子证书"] == "否"
        assert r["认证项目"] in {p.name for p in gen.PROGRAMS} and r["认证机构名称"] in {b[1] for b in gen.BODIES}


def test_enterprises_national_with_matching_usccs_and_no_suzhou_address_words() -> None:
    codes = national.region_codes()
    assert len(codes) > 300 and abs(sum(codes.values()) - 1) < 1e-9
    with (settings.ROOT / "dbt_project" / "seeds" / "regions.csv").open(encoding="utf-8") as fh:
        keywords = {k for r in csv.DictReader(fh) for k in r["address_keywords"].split("|") if k}
    ents = [national.enterprise(2022, j) for j in range(20_000)]
    assert len({e[0] for e in ents}) == len(ents)  # names unique
    ids = [e[1] for e in ents if e[1] not in ("", "000000000")]
    assert len({i.replace("-", "") for i in ids}) == len(ids)
    suzhou = [e for e in ents if e[3] in gen.REGIONS]
    assert 0.02 < len(suzhou) / len(ents) < 0.04
    for name, org_id, address, region, locatable in ents:
        assert region in codes
        if len(org_id) == 18:
            assert is_valid_uscc(org_id) and org_id[2:8] in (region, region[:4] + "00")
        if region not in gen.REGIONS:  # never placed in a Suzhou unit by its address
            assert not any(k in address for k in keywords), address
            assert not name.startswith("苏州")
        elif locatable:
            assert address.startswith(f"江苏省苏州市{gen.REGIONS[region]}")
    placed = Counter(e[3][:4] for e in ents if len(e[1]) == 18 and e[1][2:8] == e[3])
    assert placed["3205"] < 0.04 * len(ents) and len(placed) > 40


def test_source_region_codes_outside_suzhou_only_when_asked(tmp_path: Path) -> None:
    rows = _dicts(national.write_full(D, tmp_path / "x.csv", chains=CHAINS, source_region_codes=True))
    codes = Counter(r["行政区划代码"] for r in rows)
    assert sum(n for c, n in codes.items() if c and not c.startswith("3205")) > 0.8 * len(rows)
    for r in rows:
        org, code = r["统一社会信用代码/组织机构代码"], r["行政区划代码"]
        if code and code != "320584" and len(org) == 18:
            assert org[2:8] in (code, code[:4] + "00")
    default = _dicts(_file(D))
    assert [{**r, "行政区划代码": ""} for r in rows] == [{**r, "行政区划代码": ""} for r in default]


def test_rows_are_the_suzhou_generators_rows_of_the_same_certificates() -> None:
    """certificates._row on each certificate rebuilt as a certificates.Certificate gives the same
    row, but for 更新时间, which record updates may move later (never earlier)."""
    d = D.toordinal()
    compared = updated = 0
    for i in range(400):
        head, certs = national.chain(2022, i, CHAINS, D)
        name, org_id, address, region, locatable = national.enterprise(2022, head.enterprise)
        for cert in certs:
            ours = dict(zip(gen.HEADERS, national.row(2022, head, cert, d), strict=True))
            theirs = gen._row(
                gen.Certificate(
                    cert_no=cert.cert_no,
                    program=head.program,
                    program_code=head.program_code,
                    enterprise=gen.Enterprise(name, org_id, address, region, locatable),
                    source_region_code=national.source_region_code(cert, region, locatable),
                    body=head.body,
                    issue_date=date.fromordinal(cert.issue),
                    expiry_date=date.fromordinal(cert.expiry),
                    first_issue_date=date.fromordinal(cert.first_issue),
                    issued_at=cert.issued_at,
                    is_sub=cert.is_sub,
                    parent_cert_no=cert.parent_cert_no,
                    scope=ours["覆盖范围"],
                    events=tuple((date.fromordinal(day), s, t) for day, s, t in cert.events),
                ),
                D,
            )
            assert {**ours, "更新时间": ""} == {**theirs, "更新时间": ""}
            assert ours["更新时间"] >= theirs["更新时间"]
            compared += 1
            updated += ours["更新时间"] != theirs["更新时间"]
    assert compared > 400 and 0 < updated < compared


def test_counts_scale_linearly_and_hit_the_national_volumes() -> None:
    small, large = len(_rows(_file(D))), len(_rows(_file(D, chains=4 * CHAINS)))
    assert 3.7 < large / small < 4.3
    assert 4_500_000 < large * national.CHAINS / (4 * CHAINS) < 5_500_000  # ~5 M certificates at the default scale
    for n in (len(_rows(_file(D + timedelta(days=k), True, 4 * CHAINS))) for k in (1, 2)):
        assert 35_000 < n * national.CHAINS / (4 * CHAINS) < 65_000  # ~50 k changes a day


def test_cli_generate_scale_national(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(national, "CHAINS", 500)
    assert cli.main(["generate", "--scale", "national", "--as-of", "2025-07-01", "--out", str(tmp_path)]) == 0
    full = tmp_path / "certificates" / "certificates_national_20250701.csv"
    delta = tmp_path / "certificates" / "certificates_national_delta_20250701.csv"
    out = capsys.readouterr().out
    assert str(full) in out and str(delta) in out
    assert full.read_bytes() == national.write_full(date(2025, 7, 1), tmp_path / "f.csv", chains=500).read_bytes()
    assert delta.read_bytes() == national.write_delta(date(2025, 7, 1), tmp_path / "d.csv", chains=500).read_bytes()
