"""Sample lists of the other feeds: contract headers, office layout, reproducible bytes, realistic counts."""

from datetime import date
from pathlib import Path

from openpyxl import load_workbook

from greencert import feeds
from standins import green_food as gen

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
    from standins import organic

    pop = organic.build_population()
    in_force = [c for c in pop.certificates if organic.in_force(c, D)]
    assert 150 <= len(in_force) <= 400
    assert not any(c.is_sub or c.in_conversion for c in in_force)
    assert any(c.in_conversion and c.issue_date <= D < c.expiry_date for c in pop.certificates)


def test_agri_output_years_are_published_the_next_spring(tmp_path: Path) -> None:
    from standins import agri_output

    wb = load_workbook(agri_output.write(D, tmp_path), read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    assert list(rows[1]) == [c.headers[0] for c in feeds.get("agri_output").columns]  # one title row above
    assert rows[-1][0] == "合计" and rows[-1][3] == sum(r[3] for r in rows[2:-1])
    assert {r[0] for r in rows[2:-1]} == {2021, 2022, 2023, 2024}  # 2024's figures came out on 2025-03-31
    assert all(0 <= r[4] <= r[3] for r in rows[2:-1])
    year, by_region = agri_output.share_on(2022, date(2025, 3, 30))
    assert year == 2023 and len(by_region) == 10
    share = {
        d: sum(g for g, _ in agri_output.share_on(2022, d)[1].values())
        / sum(t for _, t in agri_output.share_on(2022, d)[1].values())
        for d in (date(2023, 6, 30), D)
    }
    assert 0.5 < share[date(2023, 6, 30)] < share[D] < 0.8  # climbing towards the 75 % goal


def test_enterprise_pools_fill_towards_330_with_valid_usccs(tmp_path: Path) -> None:
    import csv

    from standins import enterprise_pools
    from standins.uscc import is_valid_uscc

    members = enterprise_pools.build_members()
    assert 280 <= sum(enterprise_pools.in_force_counts(members, D).values()) < 330
    with enterprise_pools.write(D, tmp_path).open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [c.headers[0] for c in feeds.get("enterprise_pools").columns]
    assert all(is_valid_uscc(r[0]) for r in rows[1:]) and {r[2] for r in rows[1:]} == {"龙头企业", "高成长型企业"}


def test_green_manufacturing_files_drift_as_the_real_ones_do(tmp_path: Path) -> None:
    from greencert.load.readers import records
    from standins import green_manufacturing as gm

    feed = feeds.get("green_manufacturing")
    paths = gm.write(D, tmp_path / "a")
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in gm.write(D, tmp_path / "b")]
    name_headers, cells = set(), []
    for path in paths:
        rows = list(records(path, path.name))
        header_at = next(i for i, (_, r) in enumerate(rows) if "序号" in r)
        header = rows[header_at][1]
        assert all(feed.column_for_header(h) for h in header), (path.name, header)  # every drifted header reads
        name_headers |= {h for h in header if feed.column_for_header(h).name == "name"}
        cells += [c for _, r in rows[header_at + 1 :] for c in r]
    assert {"工厂名称", "企业名称", "单位名称"} <= name_headers
    assert "nan" in cells and any(c.startswith(("移出", "撤销")) for c in cells)
    assert any("（有限公司）" in c for c in cells) and any(c.endswith("股份有限公司") for c in cells)
    pop = gm.build_population()
    assert 50 <= sum(gm.in_force_counts(pop, D).values()) < 80  # T01: on the way to 80
    withdrawn = [e for e in pop.entries if e.withdrawn_on and e.withdrawn_on <= D and e.region]
    assert withdrawn and all(
        e.key not in {x.key for x in pop.entries if x is not e and gm.counted(x, D)} for e in withdrawn
    )


def test_every_feed_is_a_registry_entry_a_generator_a_source_and_a_staging_model() -> None:
    import importlib

    import yaml

    from greencert import settings

    for name in feeds.registry():
        assert hasattr(importlib.import_module(f"standins.{name}"), "write"), name
        folder = settings.DBT_PROJECT_DIR / "models/staging" / name
        sources = yaml.safe_load((folder / f"_{name}__sources.yml").read_text(encoding="utf-8"))["sources"]
        assert [(s["name"], [t["name"] for t in s["tables"]]) for s in sources] == [(name, [name])], name
        assert list(folder.glob(f"stg_{name}__*.sql")), name
