"""The raw gate on deliberately broken batches: each row rule sends the right rows to dq.quarantine
with the right rule, the good rows go on, and a batch-level failure refuses only that batch."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from greencert import feeds
from greencert.extract.files import land_new_files
from greencert.load.copy_batch import BatchRejected, load_batch
from greencert.quality import row_rules
from greencert.quality.raw_gate import run_raw_gate
from greencert.quality.summary import quarantine_listing
from standins.uscc import make_org_code, make_uscc

from .helpers import AS_OF, cert, write_csv, write_xlsx

GOOD_USCC = make_uscc("320583", 4242)
BAD_USCC = GOOD_USCC[:-1] + ("0" if GOOD_USCC[-1] != "0" else "1")


@pytest.fixture(scope="module")
def urls(fresh_database):
    return fresh_database("greencert_quarantine")


def ingest(urls, feed_name: str, path: Path, landing: Path):
    """Land, load and gate one file the way the ingest DAG does; return (batch, gate)."""
    feed = feeds.get(feed_name)
    (batch,) = land_new_files(feed, urls["loader"], AS_OF, dropbox=path.parent, landing=landing)
    load_batch(feed, urls["loader"], batch)
    return batch, run_raw_gate(feed, urls["loader"], batch.batch_id, run_id="test-quarantine")


def quarantined(urls, batch_id: str) -> set[tuple[int, str | None, str]]:
    with psycopg.connect(urls["loader"]) as conn:
        return set(
            conn.execute(
                "select source_row, column_name, rule from dq.quarantine where batch_id = %s", (batch_id,)
            ).fetchall()
        )


def clean_keys(urls, feed_name: str, batch_id: str, key: str) -> list[str]:
    with psycopg.connect(urls["loader"]) as conn:
        rows = conn.execute(row_rules.clean_rows_query(feeds.get(feed_name), batch_id)).fetchall()
        cols = [c.name for c in feeds.get(feed_name).columns]
    return sorted(r[cols.index(key)] for r in rows)


def test_certificates_rows_breaking_each_rule_are_quarantined_and_the_rest_accepted(urls, tmp_path) -> None:
    rows = [
        cert("OK1", **{"统一社会信用代码/组织机构代码": GOOD_USCC, "行政区划代码": "320583"}),  # row 2
        cert(
            "OK2",
            **{
                "统一社会信用代码/组织机构代码": make_org_code(31),
                "颁证日期": "2024年3月5日",
                "证书到期日期": "20270304",
                "更新时间": "2024/3/5",
            },
        ),  # row 3
        cert("BAD1", **{"统一社会信用代码/组织机构代码": BAD_USCC}),  # row 4
        cert("BAD2", **{"颁证日期": "2023-02-30"}),  # row 5
        cert("BAD3", **{"证书状态": "有效中"}),  # row 6
        cert("BAD4", **{"颁证日期": "2024-05-01", "证书到期日期": "2024-04-30"}),  # row 7
        cert("BAD5", **{"组织名称": "  "}),  # row 8
        cert("BAD6", **{"行政区划代码": "110101"}),  # row 9
        cert("BAD 7"),  # row 10
        cert("DUP", **{"组织名称": "苏州甲有限公司"}),  # row 11
        cert("DUP", **{"组织名称": "苏州乙有限公司"}),  # row 12
        cert("TWIN"),  # row 13
        cert("TWIN"),  # row 14
        cert("BAD8", **{"更新时间": "2024-01-10 25:00:00", "统一社会信用代码/组织机构代码": "12345678-9"}),  # 15
    ]
    batch, gate = ingest(urls, "certificates", write_csv(tmp_path / "drop" / "certs.csv", rows), tmp_path / "l")
    assert gate.success, gate.summary()
    assert quarantined(urls, batch.batch_id) == {
        (4, "org_id", "org_id"),
        (5, "issue_date", "date"),
        (6, "status", "vocabulary"),
        (7, "expiry_date", "date_order"),
        (8, "org_name", "required"),
        (9, "region_code", "region_code"),
        (10, "cert_no", "cert_no"),
        (11, "cert_no", "duplicate_key"),
        (12, "cert_no", "duplicate_key"),  # conflicting: both out
        (14, "cert_no", "duplicate_key"),  # an identical copy: the first is kept
        (15, "updated_at", "timestamp"),
        (15, "org_id", "org_id"),  # one row, two rules
    }
    assert gate.quarantined.rows_checked == 14 and gate.quarantined.rows_quarantined == 11
    # the good rows go on, exactly
    assert clean_keys(urls, "certificates", batch.batch_id, "cert_no") == ["OK1", "OK2", "TWIN"]
    listing = quarantine_listing(urls["loader"], AS_OF, "certificates")
    assert "certs.csv row 4, column org_id: org_id" in listing
    assert "证书到期日期 (expiry_date) is before 颁证日期 (issue_date)" in listing
    assert "'2024-05-01 > 2024-04-30'" in listing
    # the raw rows stay as they were sent: quarantine loses nothing
    with psycopg.connect(urls["loader"]) as conn:
        assert (
            conn.execute("select count(*) from raw.certificates where batch_id = %s", (batch.batch_id,)).fetchone()[0]
            == 14
        )


def test_green_food_codes_numbers_and_dates(urls, tmp_path) -> None:
    gf = feeds.get("green_food")
    headers = [c.headers[0] for c in gf.columns]

    def product(code: str, **fields: str) -> dict[str, str]:
        row = {
            "企业名称": "苏州绿源农业有限公司",
            "统一社会信用代码": GOOD_USCC,
            "企业信息码": "GF320506210123",
            "产品名称": "大米",
            "产品编号": code,
            "核准产量(吨)": "1,200",
            "获证类型": "初次申报",
            "证书有效期起": "2024-01-01",
            "证书有效期止": "2026-12-31",
            "所在地区": "吴中区",
        }
        row.update(fields)
        return row

    rows = [
        product("LB-15-2401020001A"),  # row 3 (a title row above)
        product("LB15-2401020002A"),  # row 4
        product("LB-15-2401020003A", **{"企业信息码": "GF3205"}),  # row 5
        product("LB-15-2401020004A", **{"核准产量(吨)": "-5"}),  # row 6
        product("LB-15-2401020005A", **{"证书有效期止": "2023-12-31"}),  # row 7
        product("LB-15-2401020006A", **{"获证类型": "再认证"}),
    ]  # row 8
    path = write_xlsx(tmp_path / "gf" / "绿色食品.xlsx", rows, headers, title_rows=("名录",), total_row=True)
    batch, gate = ingest(urls, "green_food", path, tmp_path / "l")
    assert gate.success, gate.summary()
    assert quarantined(urls, batch.batch_id) == {
        (4, "product_code", "product_code"),
        (5, "enterprise_code", "enterprise_code"),
        (6, "approved_output_t", "number"),
        (7, "valid_to", "date_order"),
        (8, "grant_type", "vocabulary"),
    }
    assert clean_keys(urls, "green_food", batch.batch_id, "product_code") == ["LB-15-2401020001A"]


def test_agri_output_year_and_negative_tonnes(urls, tmp_path) -> None:
    feed = feeds.get("agri_output")
    headers = [c.headers[0] for c in feed.columns]
    rows = [
        dict(zip(headers, r, strict=True))
        for r in (
            ("2024", "吴中区", "粮食", "12,000", "9000"),
            ("24年", "吴中区", "蔬菜", "100", "50"),
            ("2024", "吴中区", "水果", "100", "-1"),
        )
    ]
    batch, gate = ingest(urls, "agri_output", write_csv(tmp_path / "ag" / "产量.csv", rows, headers), tmp_path / "l")
    assert gate.success
    assert quarantined(urls, batch.batch_id) == {(3, "year", "year"), (4, "green_quality_output_t", "number")}


def test_a_batch_whose_every_row_is_bad_is_refused_with_its_reason(urls, tmp_path) -> None:
    rows = [cert("ALL1", **{"证书状态": "?"}), cert("ALL2", **{"颁证日期": "yesterday"})]
    batch, gate = ingest(urls, "certificates", write_csv(tmp_path / "bad" / "all_bad.csv", rows), tmp_path / "l")
    assert not gate.success
    assert "2 rows checked, 2 quarantined" in gate.summary()
    assert "a batch with no usable row (every row quarantined) is refused" in gate.summary()
    with psycopg.connect(urls["loader"]) as conn:
        status, reason = conn.execute(
            "select status, reason from raw.landing_manifest where batch_id = %s", (batch.batch_id,)
        ).fetchone()
    assert status == "rejected" and "2 quarantined" in reason


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.csv", b"", r"empty\.csv: empty file \(0 bytes\)"),
        ("page.csv", b"<html><body>502 Bad Gateway</body></html>", r"page\.csv: an HTML page, not CSV or XLSX data"),
        ("broken.xlsx", b"PK\x03\x04 this is not really a workbook", r"broken\.xlsx: not a readable XLSX workbook"),
        ("latin.csv", "证书编号,证书状态\n".encode() + b"\xff\xfe\xfa\n", r"latin\.csv: neither UTF-8 nor GB18030"),
    ],
)
def test_a_file_that_is_not_what_it_claims_is_refused_and_earlier_batches_stay(
    urls, tmp_path, name, content, reason
) -> None:
    feed = feeds.get("certificates")
    with psycopg.connect(urls["loader"]) as conn:
        before = conn.execute(
            "select batch_id, status from raw.landing_manifest where feed = 'certificates' order by 1"
        ).fetchall()
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / name).write_bytes(content)
    (batch,) = land_new_files(feed, urls["loader"], AS_OF, dropbox=drop, landing=tmp_path / "l")
    with pytest.raises(BatchRejected, match=reason):
        load_batch(feed, urls["loader"], batch)
    with psycopg.connect(urls["loader"]) as conn:
        after = conn.execute(
            "select batch_id, status from raw.landing_manifest where feed = 'certificates' "
            "and batch_id <> %s order by 1",
            (batch.batch_id,),
        ).fetchall()
        status = conn.execute(
            "select status from raw.landing_manifest where batch_id = %s", (batch.batch_id,)
        ).fetchone()[0]
    assert after == before and status == "rejected"


def test_rerunning_the_gate_does_not_double_the_quarantine(urls, tmp_path) -> None:
    rows = [cert("R1"), cert("R2", **{"证书状态": "作废"})]
    batch, gate = ingest(urls, "certificates", write_csv(tmp_path / "rr" / "rerun.csv", rows), tmp_path / "l")
    again = run_raw_gate(feeds.get("certificates"), urls["loader"], batch.batch_id, run_id="again")
    assert again.quarantined == gate.quarantined and quarantined(urls, batch.batch_id) == {(3, "status", "vocabulary")}


def test_the_raw_suite_catches_a_bad_row_the_quarantine_missed(urls, tmp_path) -> None:
    """GX is the gate, not a rubber stamp: with the quarantine emptied, the suite fails the batch."""
    from greencert.quality import gx_run, raw_suite

    feed = feeds.get("certificates")
    rows = [cert("M1"), cert("M2", **{"证书状态": "待定"})]
    batch, gate = ingest(urls, "certificates", write_csv(tmp_path / "m" / "missed.csv", rows), tmp_path / "l")
    assert gate.success
    with psycopg.connect(urls["loader"]) as conn:
        conn.execute("delete from dq.quarantine where batch_id = %s", (batch.batch_id,))
    outcome = gx_run.validate(
        urls["loader"],
        raw_suite.suite_name(feed),
        target=batch.batch_id,
        run_id="missed",
        query=row_rules.clean_rows_query(feed, batch.batch_id),
        expectations=raw_suite.expectations(feed),
    )
    assert [(c.expectation, c.column) for c in outcome.failed] == [("expect_column_values_to_be_in_set", "status")]


def test_the_sql_code_checks_agree_with_python(urls) -> None:
    """util.is_valid_uscc / is_valid_org_code (the row rules and staging) and standins.uscc (the
    generators and the oracle) say the same of valid codes and of every one-character corruption."""
    from standins.uscc import USCC_CHARSET, is_valid_org_code, is_valid_uscc

    codes = [make_uscc(region, serial) for region in ("320583", "320505") for serial in (1, 77, 4242, 99999)]
    codes += [make_org_code(serial) for serial in (3, 31, 777, 123456)]
    codes += [c[:-1] + USCC_CHARSET[(USCC_CHARSET.index(c[-1]) + k) % 31] for c in codes[:8] for k in (1, 7)]
    codes += [c[:8] + "-" + c[8] for c in codes[8:12]] + ["000000000", "", "91320583MA1X0000I0"]
    with psycopg.connect(urls["loader"]) as conn:
        got = conn.execute(
            "select code, util.is_valid_uscc(code), util.is_valid_org_code(code) from unnest(%s::text[]) as code",
            (codes,),
        ).fetchall()
    assert got == [(c, is_valid_uscc(c), is_valid_org_code(c)) for c in codes]
    assert sum(v for _, v, _ in got) == 8 and sum(v for _, _, v in got) == 8


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-05-01", "2023-05-01"),
        ("2023/5/1", "2023-05-01"),
        ("2023年5月1日", "2023-05-01"),
        ("20230501", "2023-05-01"),
        ("45047", "2023-05-01"),
        ("2023-05-01 08:30:00", "2023-05-01"),
        ("2024-02-29", "2024-02-29"),
        ("2023-02-29", None),
        ("2023-13-01", None),
        ("2023-5", None),
        ("05/01/2023", None),
        ("", None),
    ],
)
def test_dates_the_rules_accept_are_the_dates_staging_reads(urls, text, expected) -> None:
    with psycopg.connect(urls["loader"]) as conn:
        got = conn.execute("select util.parse_date(util.clean_text(%s))::text", (text,)).fetchone()[0]
    assert got == expected
