"""kill -9 mid-flight: the nightly's real steps run in a child process, killed while the loader's
COPY streams, while dbt builds, and inside the publish transaction while it holds the publish lock.

After each kill: `marts`, `bi` and `history.target_progress_history` are byte for byte as the last
good night left them (a digest of every row of every table and view), the batch is not half-loaded
(raw holds none of its rows, the manifest still says `landed`), and the next run completes and
publishes the right numbers (T06 worked out by hand in tests/integration/test_dbt_build.py; the same
digests as the clean night)."""

from __future__ import annotations

import subprocess

import psycopg
import pytest

from greencert.extract.files import land_new_files
from greencert.load.copy_batch import load_batch
from greencert.publish.swap import build_schema_for, prepare_build
from greencert.quality.raw_gate import run_raw_gate
from greencert.warehouse.roles import role_name

from ..integration.helpers import admin_url_for, write_csv
from .faults import (
    CERTS,
    EXPECTED_T06,
    D,
    audit_and_publish,
    big_certificates,
    build,
    checksums,
    child,
    copy_night,
    dbt_child,
    history_dates,
    kill9,
    output,
    pids,
    sessions,
    t06,
    wait_for,
    wait_until_gone,
)

DB = "greencert_kill"
BIG = 40_000  # rows: a COPY of a second or so
T06_PUBLISHED = {**EXPECTED_T06, "320500": sum(EXPECTED_T06.values())}


@pytest.fixture(scope="module")
def warehouse(night, tmp_path_factory):
    """A copy of the clean night (D published)."""
    return copy_night(DB), tmp_path_factory.mktemp("kill")


def test_kill_during_dbt_build_publishes_nothing_and_the_next_run_publishes_the_night(warehouse) -> None:
    urls, _ = warehouse
    published = checksums(DB)
    schema = prepare_build(urls["transformer"], build_schema_for(D))
    before = pids(DB, role_name("transformer"))
    dbt = dbt_child(urls, schema)
    # kill -9 once dbt has written models of the build
    wait_for("dbt to build models into the build schema", lambda: _relations(urls, schema) >= 5, every_s=0.1)
    kill9(dbt)
    wait_until_gone(DB, role_name("transformer"), before)

    assert checksums(DB) == published
    with psycopg.connect(urls["transformer"]) as conn:  # the half build stays behind for inspection
        assert conn.execute("select to_regclass(%s)", (f"{schema}.fct_target_progress",)).fetchone() == (None,)
    # the next run: a fresh build schema, the whole build, the gate, the publish
    audit_and_publish(urls, build(urls))
    assert t06(urls) == T06_PUBLISHED
    # the same night as before the kill, byte for byte (the batch the kill above left whole counts for
    # no target: T06 as before)
    assert checksums(DB) == published


def test_kill_inside_the_publish_transaction_changes_nothing(warehouse) -> None:
    """publish() is killed inside its one transaction: it holds the publish lock and has already
    swapped `marts` and moved the build's views into `bi` (uncommitted) when it waits on the history table, which this
    test holds locked for that moment."""
    urls, _ = warehouse
    published = checksums(DB)
    schema = build(urls)
    before = pids(DB, role_name("transformer"))
    with psycopg.connect(admin_url_for(DB)) as hold:
        hold.execute("lock table history.target_progress_history in share mode")
        publisher = child(
            f"""
            from datetime import date
            from greencert.publish.swap import publish
            publish(transformer, {schema!r}, date.fromisoformat({D.isoformat()!r}))
        """,
            urls,
        )
        (pid,) = wait_for(
            "publish to wait on the history table",
            lambda: [
                p for p, *_ in sessions(DB, "wait_event_type = 'Lock' and query like '%%target_progress_history%%'")
            ],
        )
        with psycopg.connect(admin_url_for(DB)) as conn:
            held = conn.execute(
                "select count(*) from pg_locks where pid = %s and locktype = 'advisory' and granted", (pid,)
            ).fetchone()[0]
            renamed = conn.execute(
                "select count(*) from pg_locks l join pg_class c on c.oid = l.relation "
                "where l.pid = %s and l.mode = 'AccessExclusiveLock' and l.granted",
                (pid,),
            ).fetchone()[0]
        assert held == 1 and renamed > 0  # mid-transaction: the lock, and marts/bi being swapped
        kill9(publisher)
    wait_until_gone(DB, role_name("transformer"), before)

    assert checksums(DB) == published
    assert history_dates(DB) == {D: 21 * 12}
    with psycopg.connect(urls["transformer"]) as conn:  # the audited build is still there to publish
        assert conn.execute("select to_regclass(%s)", (f"{schema}.fct_target_progress",)).fetchone()[0]
        assert not conn.execute("select 1 from pg_namespace where nspname = 'marts_retiring'").fetchone()
    audit_and_publish(urls, schema)
    assert t06(urls) == T06_PUBLISHED
    assert checksums(DB) == published


def test_kill_during_copy_loads_nothing_and_the_next_run_loads_all(warehouse) -> None:
    urls, tmp = warehouse
    published = checksums(DB)
    drop = tmp / "big"
    write_csv(drop / "证书_大批量.csv", big_certificates(BIG))
    batches = land_new_files(CERTS, urls["loader"], D, dropbox=drop, landing=tmp / "landing")
    (batch,) = [b for b in batches if b.source_file == "证书_大批量.csv"]
    before = pids(DB, role_name("loader"))
    loader = child(
        f"""
        from greencert import feeds
        from greencert.load.copy_batch import load_batch
        from greencert.load.manifest import batches_by_id
        (batch,) = batches_by_id(loader, [{batch.batch_id!r}])
        load_batch(feeds.get("certificates"), loader, batch)
    """,
        urls,
    )
    # rows are streaming into raw.certificates (COPY's progress, as the server counts it), watched on
    # one open connection (a COPY of BIG rows lasts well under a second on a quiet machine)
    with psycopg.connect(admin_url_for(DB), autocommit=True) as watch:
        try:
            wait_for("the loader's COPY to stream rows", lambda: _copying(watch, loader), every_s=0.005)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; sessions: {_sessions(watch)}") from None
    kill9(loader)
    wait_until_gone(DB, role_name("loader"), before)

    assert _raw_rows(urls, batch.batch_id) == 0  # none of the batch: its transaction died with it
    assert _manifest(urls, batch.batch_id) == ("landed", None)  # still to load: the next run takes it
    assert checksums(DB) == published

    # the next run: landing finds nothing new but returns the batch still pending; it loads whole
    (pending,) = [
        b
        for b in land_new_files(CERTS, urls["loader"], D, dropbox=drop, landing=tmp / "landing")
        if b.batch_id == batch.batch_id
    ]
    assert load_batch(CERTS, urls["loader"], pending).rows == BIG
    assert _raw_rows(urls, batch.batch_id) == BIG
    assert _manifest(urls, batch.batch_id) == ("loaded", BIG)
    assert run_raw_gate(CERTS, urls["loader"], batch.batch_id, run_id="after-kill").success
    assert _manifest(urls, batch.batch_id) == ("accepted", BIG)
    assert checksums(DB) == published  # loading never touches what is published
    # (last in this module: the tests above rebuild D from the batches accepted before them)


def _sessions(watch: psycopg.Connection) -> list[tuple]:
    return watch.execute(
        "select usename, state, wait_event_type, wait_event, left(query, 80) "
        "from pg_stat_activity where datname = current_database()"
    ).fetchall()


def _copying(watch: psycopg.Connection, loader: subprocess.Popen) -> bool:
    if loader.poll() is not None:  # it ended (or failed) before it was seen copying: say how
        raise AssertionError(
            f"the loader ended ({loader.returncode}) before its COPY was seen:\n{output(loader)}\n"
            f"sessions: {_sessions(watch)}"
        )
    return bool(
        watch.execute(
            "select 1 from pg_stat_progress_copy where datname = current_database() and tuples_processed > 0"
        ).fetchone()
    )


def _raw_rows(urls: dict[str, str], batch_id: str) -> int:
    with psycopg.connect(urls["loader"]) as conn:
        return conn.execute("select count(*) from raw.certificates where batch_id = %s", (batch_id,)).fetchone()[0]


def _manifest(urls: dict[str, str], batch_id: str) -> tuple:
    with psycopg.connect(urls["loader"]) as conn:
        return conn.execute("select status, rows from raw.landing_manifest where batch_id = %s", (batch_id,)).fetchone()


def _relations(urls: dict[str, str], schema: str) -> int:
    with psycopg.connect(urls["transformer"]) as conn:
        return conn.execute(
            "select count(*) from pg_class where relnamespace = to_regnamespace(%s)", (schema,)
        ).fetchone()[0]
