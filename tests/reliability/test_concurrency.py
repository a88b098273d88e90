"""Concurrent runs: two publishes of one date at once, of two dates at once, and two loads of one
batch at once. One waits for the other (publish: the advisory lock of publish/swap.py; load: the
loader's lock on raw.<feed>, taken before it touches the batch and held to its commit) and nothing
doubles. Airflow itself runs one nightly (and one ingest run per feed) at a time: max_active_runs=1,
asserted on the DAG objects here and in tests/integration/test_dag_integrity.py::test_team_rules."""

from __future__ import annotations

import threading
from datetime import timedelta

import psycopg
import pytest

from greencert.extract.files import land_new_files
from greencert.load.copy_batch import load_batch
from greencert.publish.swap import publish

from ..integration.helpers import admin_url_for, cert, write_csv
from .faults import (
    CERTS,
    D,
    copy_build,
    copy_night,
    history_dates,
    holding_advisory_waiting_on_history,
    named,
    sessions,
    tables_of,
    wait_for,
    waiting_on_advisory,
)

DB = "greencert_concurrency"


@pytest.fixture(scope="module")
def urls(night):
    return copy_night(DB)


class Run(threading.Thread):
    """A step in a thread of its own (its own connection): its result or its exception."""

    def __init__(self, step, *args) -> None:
        super().__init__(daemon=True)
        self.step, self.args, self.result, self.error = step, args, None, None
        self.start()

    def run(self) -> None:
        try:
            self.result = self.step(*self.args)
        except BaseException as exc:  # noqa: BLE001  (reported by the test)
            self.error = exc

    def outcome(self):
        self.join(timeout=120)
        assert not self.is_alive(), "the step never finished"
        if self.error:
            raise self.error
        return self.result


def _one_after_the_other(urls, first: tuple[str, object], second: tuple[str, object]) -> tuple:
    """Publish two builds at once: `first` takes the publish lock and is held inside its transaction
    (on the history table, locked by this test) until `second` is seen waiting for the lock."""
    (build_1, day_1), (build_2, day_2) = first, second
    url = urls["transformer"]
    with psycopg.connect(admin_url_for(DB)) as hold:
        hold.execute("lock table history.target_progress_history in share mode")
        one = Run(publish, named(url, "publish_1"), build_1, day_1)
        wait_for("the first publish to hold the lock", lambda: holding_advisory_waiting_on_history(DB, "publish_1"))
        two = Run(publish, named(url, "publish_2"), build_2, day_2)
        wait_for("the second publish to wait for the lock", lambda: waiting_on_advisory(DB, "publish_2"))
    return one.outcome(), two.outcome()


def _history(urls, day) -> dict[tuple[str, str], object]:
    with psycopg.connect(urls["transformer"]) as conn:
        return {
            (t, r): v
            for t, r, v in conn.execute(
                "select target_id, region_code, actual_value from history.target_progress_history "
                "where snapshot_date = %s",
                (day,),
            )
        }


def _fct(urls, schema) -> dict[tuple[str, str], object]:
    with psycopg.connect(urls["transformer"]) as conn:
        return {
            (t, r): v
            for t, r, v in conn.execute(
                f"select target_id, region_code, actual_value from {schema}.fct_target_progress"
            )
        }


def test_two_publishes_of_one_date_at_once_one_waits_and_nothing_doubles(urls) -> None:
    day = D + timedelta(days=1)
    a = copy_build(urls, "build_20250701_a", day, t09=101)
    b = copy_build(urls, "build_20250701_b", day, t09=102)
    expected_marts, expected_history = tables_of(DB, b), _fct(urls, b)
    first, second = _one_after_the_other(urls, (a, day), (b, day))
    assert (first.schema, second.schema) == ("marts", "marts")  # both published, one after the other
    assert tables_of(DB, "marts") == expected_marts  # the later build, whole: no table of the other
    assert history_dates(DB) == {D: 21 * 12, day: 21 * 12}  # one row set for the date
    assert _history(urls, day) == expected_history


def test_two_dates_at_once_the_later_date_stays_published_and_each_date_has_its_rows(urls) -> None:
    """The later date takes the lock first; the earlier one, waiting, then publishes as a past date
    (its history rows only): `marts` stays the later build, whole."""
    earlier, later = D + timedelta(days=2), D + timedelta(days=3)
    e = copy_build(urls, "build_20250702", earlier, t09=202)
    lt = copy_build(urls, "build_20250703", later, t09=303)
    expected_marts, expected_earlier, expected_later = tables_of(DB, lt), _fct(urls, e), _fct(urls, lt)
    first, second = _one_after_the_other(urls, (lt, later), (e, earlier))
    assert (first.schema, second.schema) == ("marts", "history")
    assert tables_of(DB, "marts") == expected_marts
    assert history_dates(DB) == {D: 21 * 12, D + timedelta(days=1): 21 * 12, earlier: 21 * 12, later: 21 * 12}
    assert _history(urls, earlier) == expected_earlier and _history(urls, later) == expected_later
    with psycopg.connect(urls["bi_reader"]) as conn:
        assert conn.execute("select distinct as_of_date from bi.target_progress").fetchall() == [(later,)]


def test_two_loads_of_one_batch_at_once_load_it_once(urls, tmp_path) -> None:
    rows = [cert(f"CONC{i:05d}", **{"行政区划代码": "320505", "认证项目": "质量管理体系认证"}) for i in range(5000)]
    write_csv(tmp_path / "drop" / "并发.csv", rows)
    (batch,) = [
        b
        for b in land_new_files(CERTS, urls["loader"], D, dropbox=tmp_path / "drop", landing=tmp_path / "landing")
        if b.source_file == "并发.csv"
    ]
    with psycopg.connect(admin_url_for(DB)) as hold:  # both loads start, then wait on raw.certificates
        # a mode that conflicts with the load's own (share row exclusive, raw.ensure_table), not with reads
        hold.execute("lock table raw.certificates in row exclusive mode")
        loads = [Run(load_batch, CERTS, named(urls["loader"], f"load_{i}"), batch) for i in (1, 2)]
        wait_for(
            "both loads to be under way",
            lambda: len(sessions(DB, "application_name like 'load_%%' and wait_event_type = 'Lock'")) == 2,
        )
    assert [load.outcome().rows for load in loads] == [5000, 5000]
    with psycopg.connect(urls["loader"]) as conn:
        count = conn.execute(
            "select count(*), count(distinct source_row) from raw.certificates where batch_id = %s", (batch.batch_id,)
        ).fetchone()
        manifest = conn.execute(
            "select status, rows from raw.landing_manifest where batch_id = %s", (batch.batch_id,)
        ).fetchone()
    assert count == (5000, 5000)
    assert manifest == ("loaded", 5000)


def test_one_nightly_and_one_ingest_run_per_feed_at_a_time() -> None:
    from greencert import feeds
    from greencert.orchestration import ingest, nightly

    dag = nightly.build()
    assert dag.max_active_runs == 1
    assert "audit" in dag.get_task("publish").upstream_task_ids  # publish only after the audit
    assert {f.name: ingest.build(f).max_active_runs for f in feeds.registry().values()} == {
        name: 1 for name in feeds.registry()
    }
