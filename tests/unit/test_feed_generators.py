"""Sample lists of the other feeds: contract headers, office layout, reproducible bytes, realistic counts."""

from datetime import date
from pathlib import Path

from openpyxl import load_workbook

from greencert import feeds
from greencert.generate import green_food as gen

D = date(2025, 6, 30)


def test_same_date_same_bytes(tmp_path: Path) -> None:
    assert gen.write(D, tmp_path / "a").read_bytes() == gen.write(D, tmp_path / "b").read_bytes()


def test_layout_and_contract(tmp_path: Path) -> None:
    wb = load_workbook(gen.write(D, tmp_path), read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    assert rows[0][0].endswith("名录") and rows[1][0].startswith("统计截至")  # title rows
    assert list(rows[2]) == [c.headers[0] for c in feeds.get("green_food").columns]
    assert rows[-1][0] == "合计" and rows[-1][1] == f"{len(rows) - 4}个产品"
    codes = [r[4] for r in rows[3:-1]]
    assert len(codes) == len(set(codes)) and all(c.startswith("LB-") for c in codes)
    assert all(r[2].startswith("GF") and len(r[2]) == 14 for r in rows[3:-1])


def test_realistic_count_in_force() -> None:
    pop = gen.build_population()
    assert 400 <= sum(gen.in_force_counts(pop, D).values()) <= 800
    assert sum(gen.in_force_counts(pop, date(2022, 7, 19)).values()) < sum(gen.in_force_counts(pop, D).values())


def test_organic_list_counts_main_non_conversion_certificates_only() -> None:
    from greencert.generate import organic

    pop = organic.build_population()
    in_force = [c for c in pop.certificates if organic.in_force(c, D)]
    assert 150 <= len(in_force) <= 400
    assert not any(c.is_sub or c.in_conversion for c in in_force)
    assert any(c.in_conversion and c.issue_date <= D < c.expiry_date for c in pop.certificates)
