"""The sample generator writes the certificates contract, deterministically, with daily changes."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import pytest

from greencert import feeds
from standins import certificates as gen
from standins.uscc import is_valid_org_code, is_valid_uscc

D = date(2025, 6, 30)


@cache
def pop() -> gen.Population:
    return gen.build_population(2022)


@cache
def rows_on(day: date) -> dict[str, dict[str, str]]:
    return {r["证书编号"]: r for r in gen.rows(pop(), day)}


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a = gen.write_csv(pop(), D, tmp_path / "a.csv")
    b = gen.write_csv(gen.build_population(2022), D, tmp_path / "b.csv")
    assert a.read_bytes() == b.read_bytes()
    assert gen.write_csv(gen.build_population(7), D, tmp_path / "c.csv").read_bytes() != a.read_bytes()


def test_header_is_the_contract(tmp_path: Path) -> None:
    path = gen.write_csv(pop(), D, tmp_path / "x.csv")
    with path.open(encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    feed = feeds.get("certificates")
    assert header == [c.headers[0] for c in feed.columns]  # all 20 contract columns, in order
    assert all(feed.column_for_header(h) for h in header)


def test_rows_obey_the_contract() -> None:
    rows = rows_on(D)
    assert 40_000 < len(rows) < 70_000  # Suzhou scale: every certificate issued up to D
    statuses = {r["证书状态"] for r in rows.values()}
    assert statuses == {"有效", "暂停", "撤销", "注销", "过期"}
    for r in rows.values():
        assert r["证书到期日期"] >= r["颁证日期"] <= D.isoformat()
        org = r["统一社会信用代码/组织机构代码"]
        assert org in ("", "000000000") or (is_valid_uscc(org) if len(org) == 18 else is_valid_org_code(org))
        if r["是否是子证书"] == "是":
            assert r["主认证证书号"] in rows and rows[r["主认证证书号"]]["是否是子证书"] == "否"
        assert r["更新时间"].startswith(r["状态变更日期"])
    regions = {r["行政区划代码"] for r in rows.values()}
    assert regions == set(gen.REGIONS) | {"", "320584"}


@pytest.mark.parametrize(
    "program, low, high",
    [
        ("环境管理体系认证", 8_000, 10_000),
        ("能源管理体系认证", 300, 400),
    ],
)
def test_realistic_volumes_and_growth(program: str, low: int, high: int) -> None:
    now = sum(gen.in_force_counts(pop(), D, program).values())
    at_policy_start = sum(gen.in_force_counts(pop(), date(2022, 7, 19), program).values())
    assert low <= now <= high
    assert at_policy_start < now  # certification grows over the policy period


def test_consecutive_days_differ_by_exactly_the_days_changes() -> None:
    for day in (D + timedelta(days=1), D + timedelta(days=2)):
        before, after = rows_on(day - timedelta(days=1)), rows_on(day)
        differing = {k for k in after if before.get(k) != after[k]} | (before.keys() - after.keys())
        changed = set(gen.changed_on(pop(), day))
        assert differing == changed and 10 <= len(changed) <= 500


def test_in_force_follows_the_one_definition() -> None:
    cert = next(c for c in pop().certificates if any(s == "暂停" for _, s, _ in c.events) and not c.is_sub)
    suspended_on = next(d for d, s, _ in cert.events if s == "暂停")
    assert gen.status_on(cert, suspended_on) == "暂停" and not gen.in_force(cert, suspended_on)
    assert gen.in_force(cert, suspended_on - timedelta(days=1)) == (cert.issue_date <= suspended_on - timedelta(days=1))
    assert not gen.in_force(cert, cert.expiry_date)  # D < expiry: not in force on its expiry day
    sub = next(c for c in pop().certificates if c.is_sub)
    assert not any(gen.in_force(sub, sub.issue_date + timedelta(days=k)) for k in (0, 100, 400))
