"""Each quarantined row carries the rules it broke, and only those (docs/reliability.md).

One certificates file whose every row breaks a set of rules worked out by hand: no rule fires as a
consequence of another's failure (a blank key is `required`, never also `duplicate_key`; an
unreadable date is its check, never also future_date or date_order; a blank is never a vocabulary
or code break; a row whose cells shifted is extra_cells only). dq.quarantine holds exactly the
expected (row, column, rule), the GX second look accepts the rows left, and the real `greencert
quarantine` command lists exactly those breaks.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys

import psycopg
import pytest

from greencert import feeds
from greencert.extract.files import land_new_files
from greencert.load.copy_batch import load_batch
from greencert.quality import row_rules
from greencert.quality.raw_gate import run_raw_gate
from standins.uscc import make_uscc

from ..integration.helpers import AS_OF, HEADERS, cert

CERTS = feeds.get("certificates")
DB = "greencert_rule_reasons"
FUTURE = "2099-01-01"  # after any day a test lands a file
USCC = make_uscc("320583", 4242)


def _cells(row: dict[str, str]) -> list[str]:
    return [row.get(h, "") for h in HEADERS]


def _shifted(row: dict[str, str]) -> list[str]:
    """The row as a CSV writer that forgot to quote 组织地址 '苏州市,吴中区' writes it: one cell more,
    every cell after the address one column to the right."""
    cells = _cells(row)
    at = HEADERS.index("组织地址")
    return cells[:at] + ["苏州市", "吴中区"] + cells[at + 1 :]


# (cells of the data row, the rules it breaks as {(column, rule)}); the file's row n is index + 2
ROWS: list[tuple[list[str], set[tuple[str | None, str]]]] = [
    (_cells(cert("OK1")), set()),
    (_cells(cert("", **{"组织名称": "苏州甲有限公司"})), {("cert_no", "required")}),  # blank keys: not
    (_cells(cert("", **{"组织名称": "苏州乙有限公司"})), {("cert_no", "required")}),  # duplicates of
    (_cells(cert("  ", **{"组织名称": "苏州丙有限公司"})), {("cert_no", "required")}),  # each other
    (_cells(cert("BAD#1", **{"组织名称": "苏州丁有限公司"})), {("cert_no", "cert_no")}),  # invalid keys:
    (_cells(cert("BAD#1", **{"组织名称": "苏州戊有限公司"})), {("cert_no", "cert_no")}),  # their check only
    (_cells(cert("D1", **{"颁证日期": "2023-02-30"})), {("issue_date", "date")}),  # not future, not order
    (_cells(cert("D2", **{"颁证日期": FUTURE, "证书到期日期": "2100-01-01"})), {("issue_date", "future_date")}),
    (
        _cells(cert("D3", **{"颁证日期": FUTURE, "证书到期日期": "2098-01-01"})),  # two facts, both sent
        {("issue_date", "future_date"), ("expiry_date", "date_order")},
    ),
    (_cells(cert("D4", **{"证书到期日期": ""})), {("expiry_date", "required")}),  # no date_order
    (_cells(cert("D5", **{"证书到期日期": "soon"})), {("expiry_date", "date")}),  # no date_order
    (_cells(cert("S1", **{"证书状态": ""})), {("status", "required")}),  # no vocabulary
    (_cells(cert("S2", **{"证书状态": "有效中"})), {("status", "vocabulary")}),
    (_cells(cert("ORG1", **{"统一社会信用代码/组织机构代码": ""})), set()),  # optional, blank
    (_cells(cert("ORG2", **{"统一社会信用代码/组织机构代码": "   ", "行政区划代码": ""})), set()),
    (_cells(cert("ORG3", **{"统一社会信用代码/组织机构代码": USCC[:-1] + "?"})), {("org_id", "org_id")}),
    (_cells(cert("U1", **{"更新时间": "2024-01-10 25:00:00"})), {("updated_at", "timestamp")}),  # not future
    (_cells(cert("U2", **{"更新时间": f"{FUTURE} 00:00:00"})), {("updated_at", "future_date")}),
    (
        _cells(cert("F1", **{"状态变更日期": "2024-13-01", "初次获证日期": FUTURE})),
        {("status_changed_on", "date"), ("first_issue_date", "future_date")},
    ),
    # shifted cells: region_code, body_name, issue_date... all hold the wrong column's value; only the
    # shift is the row's fault as sent (its key is not judged either: it clashes with OK1's)
    (_shifted(cert("OK1", **{"组织地址": "x"})), {(None, "extra_cells")}),
    (_cells(cert("DUP", **{"组织名称": "苏州甲有限公司"})), {("cert_no", "duplicate_key")}),  # conflicting
    (
        _cells(cert("DUP", **{"组织名称": "苏州乙有限公司", "证书状态": "作废"})),  # copies: both, and
        {("cert_no", "duplicate_key"), ("status", "vocabulary")},
    ),  # its own break
    (_cells(cert("TWIN")), set()),  # identical copies:
    (_cells(cert("TWIN")), {("cert_no", "duplicate_key")}),  # the first stands
    (_cells(cert("dup")), {("cert_no", "duplicate_key")}),  # DUP as staging reads it (upper): a third copy
    (
        _cells(cert("", **{"证书状态": "", "颁证日期": "yesterday"})),  # three blanks and
        {("cert_no", "required"), ("status", "required"), ("issue_date", "date")},
    ),  # a bad date
]
EXPECTED = {(i + 2, col, rule) for i, (_, broken) in enumerate(ROWS) for col, rule in broken}
CLEAN_KEYS = sorted(cells[0] for cells, broken in ROWS if not broken)


@pytest.fixture(scope="module")
def gated(fresh_database, tmp_path_factory):
    urls = fresh_database(DB)
    tmp = tmp_path_factory.mktemp("rule_reasons")
    drop = tmp / "drop"
    drop.mkdir()
    with (drop / "reasons.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADERS)
        writer.writerows(cells for cells, _ in ROWS)
    (batch,) = land_new_files(CERTS, urls["loader"], AS_OF, dropbox=drop, landing=tmp / "landing")
    load_batch(CERTS, urls["loader"], batch)
    gate = run_raw_gate(CERTS, urls["loader"], batch.batch_id, run_id="rule-reasons")
    return urls, batch, gate


def test_each_row_carries_exactly_the_rules_it_broke(gated) -> None:
    urls, batch, gate = gated
    with psycopg.connect(urls["loader"]) as conn:
        got = set(
            conn.execute(
                "select source_row, column_name, rule from dq.quarantine where batch_id = %s", (batch.batch_id,)
            ).fetchall()
        )
        n = conn.execute("select count(*) from dq.quarantine where batch_id = %s", (batch.batch_id,)).fetchone()[0]
    assert sorted(got - EXPECTED, key=str) == [] and sorted(EXPECTED - got, key=str) == []
    assert n == len(EXPECTED)  # one entry per break, none twice
    assert gate.quarantined.rows_checked == len(ROWS)
    assert gate.quarantined.rows_quarantined == len({row for row, _, _ in EXPECTED})


def test_the_gx_second_look_agrees(gated) -> None:
    """The raw suite (required, unique key, vocabularies) on the rows left finds nothing the rules
    missed, and the rows left are exactly the rows that broke nothing."""
    urls, batch, gate = gated
    assert gate.success, gate.summary()
    assert not gate.outcome.failed
    with psycopg.connect(urls["loader"]) as conn:
        rows = conn.execute(row_rules.clean_rows_query(CERTS, batch.batch_id)).fetchall()
        status = conn.execute(
            "select status from raw.landing_manifest where batch_id = %s", (batch.batch_id,)
        ).fetchone()[0]
    assert status == "accepted"
    assert sorted(r[0] for r in rows) == CLEAN_KEYS


def test_the_quarantine_command_lists_exactly_those_breaks(gated) -> None:
    urls, batch, _ = gated
    env = {**os.environ, "GREENCERT_DB": DB}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "greencert.cli",
            "quarantine",
            "--date",
            AS_OF.isoformat(),
            "--feed",
            "certificates",
            "--limit",
            "1000",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    assert f"Quarantined rows: {len(EXPECTED)} rule breaks" in out
    listed = {
        (int(row), col or None, rule)
        for row, col, rule in re.findall(
            r"^  certificates reasons\.csv row (\d+)(?:, column (\S+))?: (\w+) — ", out, re.M
        )
    }
    assert listed == EXPECTED
    assert "duplicate_key" not in {rule for row, _, rule in listed if row in (3, 4, 5, 27)}
