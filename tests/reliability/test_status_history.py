"""The status history follows what the source says, not only its timestamps (docs/reliability.md).

The snapshot (snp_certificates__status) keeps one version per certificate × 更新时间 and, for each
version, every status a batch stated for it (check strategy on the status): a status re-sent
changed with the same 更新时间 is recorded, never lost to an unchanged timestamp. The status on a
date is the latest version on or before it (by 更新时间) and, of its statements, the later-landed
batch's (then the later file row) — staging's own tie-break, so the history and the latest state
agree whatever order the batches were taken in. Hand-made files, a build after each, as the
nightly does (every number worked out by hand below):

    cert  1: 06-01            2: 06-02                      3: 06-03 (two files, one run)      4: 06-04
    A     有效 @05-01 10:00   撤销 @05-01 10:00 (same time)  3a: 有效 @05-01 10:00 (back)       —
    B     有效 @05-01 10:00   有效 @05-01 10:00 (re-sent)    —                                  —
    C     暂停 @05-20 10:00   有效 @05-10 10:00 (backwards)  —                                  —
    D     有效 @05-01 10:00   —                              3a: 暂停, 3b: 有效 @05-01 (same)   —
    E     —                   —                              —                        4a: 暂停, 4b: 有效 (4b first)

    in force (有效) on:  06-01 A B D · 06-02 B D · 06-03 A B D · 06-04 A B D E
    C: its 更新时间 went backwards: a statement about 05-10 (有效), not the current state — the
       05-20 version (暂停) is later, as staging's latest state says too; a date between the two
       (05-15, asked after load 4) answers 有效 for it: A B C D E.
    E: 4a landed before 4b but is gated and taken after it: 4b's 有效 still wins (landed later).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import pytest

from greencert import environment, feeds, settings, subprocesses
from greencert.extract.files import land_new_files
from greencert.load.copy_batch import load_batch
from greencert.publish.swap import build_schema_for, prepare_build
from greencert.quality.raw_gate import run_raw_gate

from ..integration.helpers import cert, write_csv

DB = "greencert_status_history"
CERTS = feeds.get("certificates")
SNAPSHOT = "snapshots.snp_certificates__status"
T = "2025-05-01 10:00:00"


def c(cert_no: str, status: str, updated: str = T) -> dict[str, str]:
    return cert(cert_no, **{"行政区划代码": "320506", "证书状态": status, "更新时间": updated})


DAY1, DAY2, DAY3, DAY4 = date(2025, 6, 1), date(2025, 6, 2), date(2025, 6, 3), date(2025, 6, 4)
PAST = date(2025, 5, 15)
# day -> the files landed that day, in landing order, and the order they are gated and built in
FILES: dict[date, list[tuple[str, list[dict[str, str]]]]] = {
    DAY1: [("d1.csv", [c("A", "有效"), c("B", "有效"), c("C", "暂停", "2025-05-20 10:00:00"), c("D", "有效")])],
    DAY2: [("d2.csv", [c("A", "撤销"), c("B", "有效"), c("C", "有效", "2025-05-10 10:00:00")])],
    DAY3: [("d3a.csv", [c("A", "有效"), c("D", "暂停")]), ("d3b.csv", [c("D", "有效")])],
    DAY4: [("d4a.csv", [c("E", "暂停")]), ("d4b.csv", [c("E", "有效")])],
}
IN_FORCE = {
    DAY1: {"A", "B", "D"},
    DAY2: {"B", "D"},
    DAY3: {"A", "B", "D"},
    DAY4: {"A", "B", "D", "E"},
    PAST: {"A", "B", "C", "D", "E"},
}


@dataclass
class Night:
    url: str
    in_force: dict[str, set[str]]  # build -> the certificates in force in it
    snapshot: dict[str, list[tuple]]  # after build -> the snapshot's rows (without dbt's own times)
    latest: dict[str, str]  # staging's latest state after the last build: cert -> status


def _snapshot(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(f"""select cert_no, status, updated_at, landed_at, source_row, dbt_valid_to is null
                                from {SNAPSHOT} order by cert_no, updated_at, landed_at, source_row""").fetchall()


def _build(url: str, schema: str, day: date) -> set[str]:
    prepare_build(url, schema)
    subprocesses.dbt(
        ["build", "--exclude-resource-type", "test", "--vars", f"{{as_of_date: '{day}'}}"],
        environment.dbt_env(url, schema),
    )
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute(f"select cert_no from {schema}.int_certificates_in_force").fetchall()}


def _gate(loader: str, batch) -> None:
    load_batch(CERTS, loader, batch)
    assert run_raw_gate(CERTS, loader, batch.batch_id, run_id="status-history").success


@pytest.fixture(scope="module")
def night(fresh_database, tmp_path_factory) -> Night:
    urls = fresh_database(DB)
    url, loader = urls["transformer"], urls["loader"]
    if not (settings.DBT_PROJECT_DIR / "target" / "manifest.json").exists():
        subprocesses.dbt_parse()
    tmp = tmp_path_factory.mktemp("status_history")
    drop, landing = tmp / "drop", tmp / "landing"
    out = Night(url, {}, {}, {})
    for day, files in FILES.items():
        for name, rows in files:
            write_csv(drop / name, rows)
        batches = {b.source_file: b for b in land_new_files(CERTS, loader, day, dropbox=drop, landing=landing)}
        for name, _ in files:
            Path(drop / name).unlink()
        if day == DAY4:  # the later-landed file gated (and built) first, the earlier one after it
            _gate(loader, batches["d4b.csv"])
            out.in_force["4b"] = _build(url, build_schema_for(day) + "_b", day)
            _gate(loader, batches["d4a.csv"])
        else:
            for name, _ in files:
                _gate(loader, batches[name])
        out.in_force[str(day)] = _build(url, build_schema_for(day), day)
        out.snapshot[str(day)] = _snapshot(url)
        if day == DAY3:  # the same night again: nothing new to take, the same answers and history
            out.in_force["3 again"] = _build(url, build_schema_for(day), day)
            out.snapshot["3 again"] = _snapshot(url)
    out.in_force["past"] = _build(url, build_schema_for(PAST) + "_asked_later", PAST)
    out.snapshot["past"] = _snapshot(url)
    with psycopg.connect(url) as conn:
        out.latest = dict(conn.execute("select cert_no, status from staging.stg_certificates__certificates").fetchall())
    return out


def test_the_certificates_in_force_on_each_date(night) -> None:
    assert night.in_force[str(DAY1)] == IN_FORCE[DAY1]
    assert night.in_force[str(DAY2)] == IN_FORCE[DAY2]  # A's 撤销 with an unchanged 更新时间 counts
    assert night.in_force[str(DAY3)] == IN_FORCE[DAY3]  # A back to 有效; D: the later-landed file wins
    assert night.in_force["4b"] == night.in_force[str(DAY4)] == IN_FORCE[DAY4]  # E: landing order, not taking
    assert night.in_force["past"] == IN_FORCE[PAST]  # C's backwards version answers the date it names


def test_each_change_of_status_is_a_statement_and_a_resend_is_none(night) -> None:
    rows = night.snapshot["past"]
    statements = {}
    for cert_no, status, updated_at, _landed, _row, current in rows:
        statements.setdefault((cert_no, f"{updated_at:%m-%d}"), []).append((status, current))
    assert statements == {
        ("A", "05-01"): [("有效", False), ("撤销", False), ("有效", True)],  # each change recorded, in order
        ("B", "05-01"): [("有效", True)],  # the identical re-send recorded nothing
        ("C", "05-10"): [("有效", True)],
        ("C", "05-20"): [("暂停", True)],
        ("D", "05-01"): [("有效", True)],  # 3a's 暂停 and 3b's 有效 in one run: 3b (later) only, as held
        ("E", "05-01"): [("暂停", True), ("有效", False)],  # 4a taken last (current), but landed first
    }


def test_the_history_agrees_with_the_latest_state(night) -> None:
    """Staging's latest state (by 更新时间, then landing) and the history on the last date say the same."""
    assert night.latest == {"A": "有效", "B": "有效", "C": "暂停", "D": "有效", "E": "有效"}
    assert {cert_no for cert_no, status in night.latest.items() if status == "有效"} == IN_FORCE[DAY4]


def test_the_same_night_twice_gives_the_same_warehouse(night) -> None:
    assert night.in_force["3 again"] == night.in_force[str(DAY3)]
    assert night.snapshot["3 again"] == night.snapshot[str(DAY3)]
    assert night.snapshot["past"] == night.snapshot[str(DAY4)]  # asking a past date changes no history
