"""Reruns are safe: each step run twice for the same input or date leaves identical tables.

Every DAG run twice for one logical date through Airflow (ingest of all ten feeds, then the nightly,
for the middle of three published dates: raw, quarantine, snapshots, marts, the history of every date
unchanged) is tests/integration/test_nightly_e2e.py::
test_three_dates_then_every_dag_rerun_for_the_middle_one_changes_nothing; a fresh dbt build of the
same date published again gives the same digests in tests/reliability/test_kill.py. Here, the steps
themselves, directly and cheaply: the same file landed, loaded and gated twice; the same date (the
latest, or a past one) published twice."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from greencert.extract.files import land_new_files
from greencert.load.copy_batch import load_batch
from greencert.publish.swap import publish
from greencert.quality.raw_gate import run_raw_gate

from ..integration.helpers import cert, write_csv
from .faults import CERTS, D, checksums, copy_build, copy_night, history_dates

DB = "greencert_idempotency"


@pytest.fixture(scope="module")
def urls(night):
    return copy_night(DB)


def _batch_state(urls, batch_id: str) -> dict[str, object]:
    """The batch's raw rows, quarantine entries and manifest row (less the load and quarantine times)."""
    with psycopg.connect(urls["loader"]) as conn:

        def rows(query: str) -> list:
            return sorted(r[0] for r in conn.execute(query, (batch_id,)))

        return {
            "raw": rows("select md5((to_jsonb(t) - 'loaded_at')::text) from raw.certificates t where batch_id = %s"),
            "quarantine": rows(
                "select md5((to_jsonb(t) - 'quarantined_at')::text) from dq.quarantine t where batch_id = %s"
            ),
            "manifest": rows(
                "select (batch_id, feed, source_file, sha256, logical_date, status, rows)::text "
                "from raw.landing_manifest where batch_id = %s"
            ),
        }


def test_the_same_file_landed_loaded_and_gated_twice_leaves_the_same_rows(urls, tmp_path) -> None:
    rows = [cert(f"IDEM{i}", **{"行政区划代码": "320505"}) for i in range(50)]
    rows[7]["颁证日期"] = "2024-13-45"  # an impossible date: quarantined, twice the same
    drop, landing = tmp_path / "drop", tmp_path / "landing"
    write_csv(drop / "重跑.csv", rows)
    (batch,) = [
        b
        for b in land_new_files(CERTS, urls["loader"], D, dropbox=drop, landing=landing)
        if b.source_file == "重跑.csv"
    ]
    assert load_batch(CERTS, urls["loader"], batch).rows == 50
    assert run_raw_gate(CERTS, urls["loader"], batch.batch_id, run_id="once").success
    once = _batch_state(urls, batch.batch_id)
    assert len(once["raw"]) == 50 and len(once["quarantine"]) == 1 and "accepted" in once["manifest"][0]

    # landing the same file again is a no-op (nothing new, nothing pending)
    assert batch.batch_id not in {
        b.batch_id for b in land_new_files(CERTS, urls["loader"], D, dropbox=drop, landing=landing)
    }
    # the load and the gate run again on the same batch (a retried task)
    assert load_batch(CERTS, urls["loader"], batch).rows == 50
    assert run_raw_gate(CERTS, urls["loader"], batch.batch_id, run_id="twice").success
    assert _batch_state(urls, batch.batch_id) == once


def test_the_same_date_published_twice_leaves_identical_tables(urls) -> None:
    """The latest date published twice from equal builds, then a past date twice: every published
    table and view identical, row for row (history rows whose numbers did not change keep their
    published_at), one row set per date."""
    day = D + timedelta(days=1)
    publish(urls["transformer"], copy_build(urls, "build_20250701", day), day)
    once = checksums(DB)
    publish(urls["transformer"], copy_build(urls, "build_20250701", day), day)
    assert checksums(DB) == once

    for _ in range(2):  # D is a past date now: only its history rows, replaced by the same numbers
        assert publish(urls["transformer"], copy_build(urls, "build_20250630", D), D).schema == "history"
        assert checksums(DB) == once
    assert history_dates(DB) == {D: 21 * 12, day: 21 * 12}
