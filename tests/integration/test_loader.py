"""The files connector and the COPY loader on the real warehouse."""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg
import pytest

from greencert import feeds
from greencert.extract.files import land_new_files
from greencert.generate import certificates
from greencert.load.copy_batch import BatchRejected, load_batch

from .helpers import AS_OF, HEADERS, cert, population, write_csv, write_xlsx

FEED = feeds.get("certificates")


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "drop", tmp_path / "landing"


def land(urls, dirs):
    """This test's new batches (the shared database also holds other tests' batches, loaded but never
    gated, which the connector offers again)."""
    batches = land_new_files(FEED, urls["loader"], AS_OF, dropbox=dirs[0], landing=dirs[1])
    return [b for b in batches if b.landed_path.is_relative_to(dirs[1])]


def test_generated_file_loads_every_row_tagged(role_urls, dirs) -> None:
    path = certificates.write_csv(population(), AS_OF, dirs[0] / "certificates_20250630.csv")
    with path.open(encoding="utf-8") as fh:
        source = list(csv.DictReader(fh))
    (batch,) = land(role_urls, dirs)
    assert batch.landed_path.read_bytes() == path.read_bytes()
    assert oct(batch.landed_path.stat().st_mode)[-3:] == "444"  # landed files are immutable
    result = load_batch(FEED, role_urls["loader"], batch)
    assert result.rows == len(source) and result.unknown_headers == ()
    with psycopg.connect(role_urls["loader"]) as conn:
        n, rows_min, rows_max, files = conn.execute(
            "select count(*), min(source_row), max(source_row), array_agg(distinct source_file) "
            "from raw.certificates where batch_id = %s", (batch.batch_id,)).fetchone()
        row8 = conn.execute("select cert_no, org_name, status from raw.certificates "
                            "where batch_id = %s and source_row = 8", (batch.batch_id,)).fetchone()
        manifest = conn.execute("select status, rows, sha256 from raw.landing_manifest where batch_id = %s",
                                (batch.batch_id,)).fetchone()
    assert (n, rows_min, rows_max, files) == (len(source), 2, len(source) + 1, [path.name])  # header = row 1
    assert row8 == (source[6]["证书编号"], source[6]["组织名称"], source[6]["证书状态"])
    assert manifest == ("loaded", len(source), batch.sha256)
    # the same file again, under any name, is a no-op: no new batch (the one loaded above is offered
    # again only because this test never gates it)
    (dirs[0] / "copy_of_it.csv").write_bytes(path.read_bytes())
    assert [b.batch_id for b in land(role_urls, dirs)] == [batch.batch_id]


def test_gb18030_and_header_alias(role_urls, dirs) -> None:
    headers = [("统一社会信用代码" if h == "统一社会信用代码/组织机构代码" else h) for h in HEADERS]
    rows = [cert("GB1", **{"组织名称": "苏州市吴中区甪直镇䶮记食品有限公司", "统一社会信用代码": "000000000"})]
    write_csv(dirs[0] / "gbk.csv", rows, headers, encoding="gb18030")
    (batch,) = land(role_urls, dirs)
    load_batch(FEED, role_urls["loader"], batch)
    with psycopg.connect(role_urls["loader"]) as conn:
        got = conn.execute("select org_name, org_id from raw.certificates where batch_id = %s",
                           (batch.batch_id,)).fetchone()
    assert got == ("苏州市吴中区甪直镇䶮记食品有限公司", "000000000")


def test_xlsx_with_title_rows_and_a_total_row(role_urls, dirs) -> None:
    rows = [cert("X1", **{"颁证日期": "2024-01-10"}), cert("X2")]
    write_xlsx(dirs[0] / "名录.xlsx", rows, title_rows=("江苏省认证证书名录", "统计截至：2025年6月30日"),
               total_row=True)
    (batch,) = land(role_urls, dirs)
    assert load_batch(FEED, role_urls["loader"], batch).rows == 2  # the 合计 row is not data
    with psycopg.connect(role_urls["loader"]) as conn:
        got = conn.execute("select source_row, cert_no, issue_date from raw.certificates "
                           "where batch_id = %s order by source_row", (batch.batch_id,)).fetchall()
    assert got == [(4, "X1", "2024-01-10"), (5, "X2", "2024-01-10")]  # rows as the sheet numbers them


def test_xlsx_sent_with_a_csv_name_is_read_as_xlsx(role_urls, dirs) -> None:
    write_xlsx(dirs[0] / "really_a_workbook.csv", [cert("W1")])
    (batch,) = land(role_urls, dirs)
    assert load_batch(FEED, role_urls["loader"], batch).rows == 1


def test_missing_required_column_refuses_the_batch_and_names_it(role_urls, dirs) -> None:
    headers = [h for h in HEADERS if h != "证书编号"]
    write_csv(dirs[0] / "broken.csv", [cert("X1")], headers)
    (batch,) = land(role_urls, dirs)
    with pytest.raises(BatchRejected, match=r"broken\.csv: missing required column 证书编号 \(cert_no\)"):
        load_batch(FEED, role_urls["loader"], batch)
    with psycopg.connect(role_urls["loader"]) as conn:
        status, reason = conn.execute("select status, reason from raw.landing_manifest where batch_id = %s",
                                      (batch.batch_id,)).fetchone()
        rows = conn.execute("select count(*) from raw.certificates where batch_id = %s",
                            (batch.batch_id,)).fetchone()[0]
    assert status == "rejected" and "证书编号" in reason and rows == 0


def test_header_only_file_is_refused(role_urls, dirs) -> None:
    write_csv(dirs[0] / "empty.csv", [])
    (batch,) = land(role_urls, dirs)
    with pytest.raises(BatchRejected, match="header only"):
        load_batch(FEED, role_urls["loader"], batch)


def test_loader_cannot_touch_published_schemas(role_urls) -> None:
    with psycopg.connect(role_urls["loader"]) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("create table marts.sneaky (x int)")


def test_a_batch_loaded_but_never_gated_is_offered_again(role_urls, dirs) -> None:
    """A run killed between load and gate leaves the batch `loaded`: the next run takes it up again
    instead of leaving it out of staging for ever."""
    write_csv(dirs[0] / "stuck.csv", [cert("S1")])
    (batch,) = land(role_urls, dirs)
    load_batch(FEED, role_urls["loader"], batch)
    assert [b.batch_id for b in land(role_urls, dirs)] == [batch.batch_id]
