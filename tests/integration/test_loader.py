"""The files connector and the COPY loader on the real warehouse."""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg
import pytest

from greencert import feeds
from greencert.extract.files import land_new_files
from greencert.load.copy_batch import BatchRejected, load_batch
from standins import certificates

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
    assert oct(batch.landed_path.stat().st_mode)[-3:] == "400"  # immutable, the service user's only
    result = load_batch(FEED, role_urls["loader"], batch)
    assert result.rows == len(source) and result.unknown_headers == ()
    with psycopg.connect(role_urls["loader"]) as conn:
        n, rows_min, rows_max, files = conn.execute(
            "select count(*), min(source_row), max(source_row), array_agg(distinct source_file) "
            "from raw.certificates where batch_id = %s",
            (batch.batch_id,),
        ).fetchone()
        row8 = conn.execute(
            "select cert_no, org_name, status from raw.certificates where batch_id = %s and source_row = 8",
            (batch.batch_id,),
        ).fetchone()
        manifest = conn.execute(
            "select status, rows, sha256 from raw.landing_manifest where batch_id = %s", (batch.batch_id,)
        ).fetchone()
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
        got = conn.execute(
            "select org_name, org_id from raw.certificates where batch_id = %s", (batch.batch_id,)
        ).fetchone()
    assert got == ("苏州市吴中区甪直镇䶮记食品有限公司", "000000000")


def test_xlsx_with_title_rows_and_a_total_row(role_urls, dirs) -> None:
    rows = [cert("X1", **{"颁证日期": "2024-01-10"}), cert("X2")]
    write_xlsx(
        dirs[0] / "名录.xlsx", rows, title_rows=("江苏省认证证书名录", "统计截至：2025年6月30日"), total_row=True
    )
    (batch,) = land(role_urls, dirs)
    assert load_batch(FEED, role_urls["loader"], batch).rows == 2  # the 合计 row is not data
    with psycopg.connect(role_urls["loader"]) as conn:
        got = conn.execute(
            "select source_row, cert_no, issue_date from raw.certificates where batch_id = %s order by source_row",
            (batch.batch_id,),
        ).fetchall()
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
        status, reason = conn.execute(
            "select status, reason from raw.landing_manifest where batch_id = %s", (batch.batch_id,)
        ).fetchone()
        rows = conn.execute("select count(*) from raw.certificates where batch_id = %s", (batch.batch_id,)).fetchone()[
            0
        ]
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


# --- the edges of CSV reading: both the plain-block path and the record-by-record path ---------

EDGE_HEADER = ["证书编号", "证书状态", "认证项目", "组织名称", "认证机构名称", "颁证日期", "证书到期日期"]
EDGE_COLUMNS = ["cert_no", "status", "cert_program", "org_name", "body_name", "issue_date", "expiry_date"]
FULL = "环境管理体系认证,{org},中国质量认证中心,2024-01-10,2027-01-09"


def edge_file(eol: str, unknown_column: bool, plain_rows: int, tag: str) -> str:
    """Title rows (the first one tagged, so each file is its own batch), a quoted cell running
    over two lines, quotes and commas in a cell, blank rows, ragged rows, a whitespace cell, plain
    rows in bulk, 合计 rows, no line break at the end."""
    header = EDGE_HEADER + (["备注"] if unknown_column else [])
    lines = [
        f"江苏省认证证书名录 {tag}",  # 1
        "统计截至：2025年6月30日,,",  # 2
        ",".join(header),  # 3
        "E1,有效," + FULL.format(org="苏州甲有限公司"),  # 4
        f'E2,有效,环境管理体系认证,"苏州乙有限公司{eol}（二厂）",中国质量认证中心,2024-01-10,2027-01-09',  # 5
        'E3,有效,环境管理体系认证,"苏州""丙"",有限公司",中国质量认证中心,2024-01-10,',  # 6
        "",  # 7: blank
        ",,,,,,",  # 8: blank
        "E4,有效,环境管理体系认证,苏州丁有限公司",  # 9: short
        "E5,有效," + FULL.format(org="苏州戊有限公司") + ",多余,更多",  # 10: long
        "E6, ," + FULL.format(org="苏州己有限公司"),  # 11: a space is a value
        *(f"P{i},有效," + FULL.format(org=f"苏州{i}号有限公司") for i in range(plain_rows)),  # 12…
        "合计,6项",
        " 小 计,,,",
        "E7,有效," + FULL.format(org="苏州庚有限公司"),  # no line break after the last row
    ]
    return eol.join(lines)


def expected_edge_rows(eol: str, plain_rows: int) -> list[tuple]:
    full = ("环境管理体系认证", "中国质量认证中心", "2024-01-10", "2027-01-09")

    def row(n, cert_no, status, org):
        return (n, cert_no, status, full[0], org, *full[1:])

    return [
        row(4, "E1", "有效", "苏州甲有限公司"),
        row(5, "E2", "有效", f"苏州乙有限公司{eol}（二厂）"),
        (6, "E3", "有效", "环境管理体系认证", '苏州"丙",有限公司', "中国质量认证中心", "2024-01-10", None),
        (9, "E4", "有效", "环境管理体系认证", "苏州丁有限公司", None, None, None),
        row(10, "E5", "有效", "苏州戊有限公司"),
        row(11, "E6", " ", "苏州己有限公司"),
        *(row(12 + i, f"P{i}", "有效", f"苏州{i}号有限公司") for i in range(plain_rows)),
        row(14 + plain_rows, "E7", "有效", "苏州庚有限公司"),
    ]


def reference_rows(path: Path) -> list[tuple]:
    """The rows as the reference reader (readers.records, csv.reader over the decoded text) reads
    them: header among the first rows, blank and 合计 rows skipped, short rows padded, '' → NULL."""
    from greencert.load.readers import is_blank_or_total, records

    recs = list(records(path, path.name))

    def named(cells):
        return sum(1 for h in cells if h and FEED.column_for_header(h) is not None)

    at = max(range(min(10, len(recs))), key=lambda i: named(recs[i][1]))
    cols = {FEED.column_for_header(h).name: i for i, h in enumerate(recs[at][1]) if FEED.column_for_header(h)}
    out = []
    for n, cells in recs[at + 1 :]:
        if not is_blank_or_total(cells):
            cells = cells + [""] * (max(cols.values()) + 1 - len(cells))
            out.append((n, *(cells[cols[c]] or None for c in EDGE_COLUMNS)))
    return out


def loaded_rows(urls, batch_id: str) -> list[tuple]:
    with psycopg.connect(urls["loader"]) as conn:
        return conn.execute(
            f"select source_row, {', '.join(EDGE_COLUMNS)} from raw.certificates "
            "where batch_id = %s order by source_row",
            (batch_id,),
        ).fetchall()


@pytest.mark.parametrize("block_bytes", [1 << 20, 64])
@pytest.mark.parametrize("unknown_column", [False, True])
@pytest.mark.parametrize("eol", ["\n", "\r\n"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_edges_load_exactly_as_the_reference_reader_reads_them(
    role_urls, dirs, monkeypatch, encoding, eol, unknown_column, block_bytes
) -> None:
    """Plain lines go to COPY as they are and everything else record by record (a block size of
    64 bytes mixes the two in one file); GB18030 is found after a first try as UTF-8; either way
    the rows, their numbers and their NULLs are the reference reader's."""
    from greencert.load import readers

    monkeypatch.setattr(readers, "BLOCK_BYTES", block_bytes)
    dirs[0].mkdir(parents=True)
    path = dirs[0] / f"edges_{encoding}_{len(eol)}_{unknown_column}_{block_bytes}.csv"
    path.write_bytes(edge_file(eol, unknown_column, plain_rows=40, tag=path.stem).encode(encoding))
    (batch,) = land(role_urls, dirs)
    result = load_batch(FEED, role_urls["loader"], batch)
    expected = expected_edge_rows(eol, plain_rows=40)
    assert result.rows == len(expected) and result.unknown_headers == (("备注",) if unknown_column else ())
    assert loaded_rows(role_urls, batch.batch_id) == expected == reference_rows(path)
    # a rerun of the same batch replaces its rows
    assert load_batch(FEED, role_urls["loader"], batch).rows == len(expected)
    assert loaded_rows(role_urls, batch.batch_id) == expected


def test_bare_cr_line_breaks_read_as_the_reference_reads_them(role_urls, dirs, monkeypatch) -> None:
    from greencert.load import readers

    monkeypatch.setattr(readers, "BLOCK_BYTES", 16)
    dirs[0].mkdir(parents=True)
    path = dirs[0] / "old_mac.csv"
    path.write_bytes(edge_file("\r", False, plain_rows=3, tag="cr").encode())
    (batch,) = land(role_urls, dirs)
    load_batch(FEED, role_urls["loader"], batch)
    assert loaded_rows(role_urls, batch.batch_id) == expected_edge_rows("\r", plain_rows=3) == reference_rows(path)


@pytest.mark.parametrize("bad", [b"P50\xff", b'"P50\xff"'])
def test_a_bad_byte_past_the_first_block_refuses_the_batch_and_loads_nothing(role_urls, dirs, monkeypatch, bad) -> None:
    """A byte that is neither UTF-8 nor GB18030 deep in the file, in a plain block (checked by
    PostgreSQL's COPY) or in a quoted record (decoded by Python, half-way through the COPY), still
    refuses the batch, with the reason, and no row stays."""
    from greencert.load import readers

    monkeypatch.setattr(readers, "BLOCK_BYTES", 256)
    dirs[0].mkdir(parents=True)
    text = edge_file("\n", False, plain_rows=60, tag=f"late {bad!r}").encode()
    at = text.index(b"P50,")
    (dirs[0] / "late_garbage.csv").write_bytes(text[:at] + bad + text[at + 3 :])
    (batch,) = land(role_urls, dirs)
    with pytest.raises(BatchRejected, match=r"late_garbage\.csv: neither UTF-8 nor GB18030"):
        load_batch(FEED, role_urls["loader"], batch)
    with psycopg.connect(role_urls["loader"]) as conn:
        status = conn.execute(
            "select status from raw.landing_manifest where batch_id = %s", (batch.batch_id,)
        ).fetchone()[0]
    assert status == "rejected" and loaded_rows(role_urls, batch.batch_id) == []


def test_duplicate_header_is_refused(role_urls, dirs) -> None:
    dirs[0].mkdir(parents=True)
    (dirs[0] / "twice.csv").write_text(",".join([*EDGE_HEADER, "证书状态"]) + "\nE1,有效\n", encoding="utf-8")
    (batch,) = land(role_urls, dirs)
    with pytest.raises(BatchRejected, match=r"twice\.csv: column '证书状态' \(status\) appears twice in the header"):
        load_batch(FEED, role_urls["loader"], batch)
