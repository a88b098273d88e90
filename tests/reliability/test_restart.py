"""The warehouse restarts between the nightly's tasks, or crashes inside the publish transaction.

The tests' embedded PostgreSQL is shared by the whole session: each test stops it and starts it
again (same data folder and port) before it ends, so the modules after it find it as it was.
A step against a stopped server fails at once with an error that says so; once the server is back,
running the step again (as a task's retry or a rerun of the date does) completes, and nothing was
published half: `marts`, `bi` and the history are byte for byte as before until the publish commits.
(Each nightly task is retried once, 30 s later — `common.RETRIES`, for a worker lost mid-task; an
audit or publish that fails again fails the run, loudly, and the date is rerun.)"""

from __future__ import annotations

import os
import time

import psycopg
import pytest

from greencert.publish.swap import publish
from greencert.quality import mart_gate
from greencert.warehouse import server
from greencert.warehouse.roles import role_name

from ..integration.helpers import admin_url_for
from .faults import (
    EXPECTED_T06,
    D,
    audit_and_publish,
    build,
    checksums,
    child,
    copy_night,
    history_dates,
    output,
    sessions,
    t06,
    wait_for,
)

DB = "greencert_restart"
T06_PUBLISHED = {**EXPECTED_T06, "320500": sum(EXPECTED_T06.values())}

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("WAREHOUSE_URL")), reason="restarts the tests' embedded PostgreSQL (none with WAREHOUSE_URL)"
)


@pytest.fixture(scope="module")
def urls(night):
    return copy_night(DB)


def wait_ready(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            psycopg.connect(url, connect_timeout=3).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.fixture
def restart():
    """Stop the embedded server (`fast`: sessions ended, or `immediate`: a crash, no checkpoint) and
    start it again; whatever happens, it runs again when the test ends."""

    def stop(mode: str = "fast") -> None:
        bin_path, user = server._pg()
        server._run(bin_path, user, "pg_ctl", "-w", "-D", str(server.settings.PGDATA), "-m", mode, "stop")
        assert not server.is_running()

    def start() -> None:
        wait_ready(server.ensure_running())

    yield stop, start
    if not server.is_running():
        start()


def test_a_restart_between_build_and_publish_fails_the_step_clearly_then_the_rerun_publishes(urls, restart) -> None:
    stop, start = restart
    published = checksums(DB)
    schema = build(urls)
    stop()
    with pytest.raises(Exception, match="(?i)connection (refused|failed)|could not connect") as audit_error:
        mart_gate.audit(urls["transformer"], schema, run_id="restart")
    with pytest.raises(psycopg.OperationalError, match="(?i)connection (refused|failed)"):
        publish(urls["transformer"], schema, D)
    assert str(server.settings.PG_PORT) in str(audit_error.value) or "127.0.0.1" in str(audit_error.value)
    start()
    assert checksums(DB) == published
    # the step again, on the same build (it was written before the restart)
    audit_and_publish(urls, schema)
    assert t06(urls) == T06_PUBLISHED
    assert checksums(DB) == published  # the same night, once


def test_a_crash_inside_the_publish_transaction_rolls_it_back(urls, restart) -> None:
    """The server goes down (`pg_ctl stop -m immediate`: no shutdown checkpoint, crash recovery on
    start) while publish() is inside its transaction, `marts` swapped and `bi` re-pointed but not
    committed (held on the history table by this test's lock)."""
    stop, start = restart
    published = checksums(DB)
    schema = build(urls)
    hold = psycopg.connect(admin_url_for(DB))
    hold.execute("lock table history.target_progress_history in share mode")
    publisher = child(
        f"""
        from datetime import date
        from greencert.publish.swap import publish
        publish(transformer, {schema!r}, date.fromisoformat({D.isoformat()!r}))
    """,
        urls,
    )
    wait_for(
        "publish to wait on the history table",
        lambda: sessions(DB, "usename = %s and wait_event_type = 'Lock'", (role_name("transformer"),)),
    )
    stop("immediate")
    hold.close()
    assert publisher.wait(timeout=60) != 0
    assert "OperationalError" in output(publisher) or "terminating connection" in output(publisher)
    start()
    assert checksums(DB) == published
    assert history_dates(DB) == {D: 21 * 12}
    with psycopg.connect(urls["transformer"]) as conn:  # the build survived, whole: publish it again
        assert conn.execute("select to_regclass(%s)", (f"{schema}.fct_target_progress",)).fetchone()[0]
        assert not conn.execute("select 1 from pg_namespace where nspname = 'marts_retiring'").fetchone()
    audit_and_publish(urls, schema)
    assert t06(urls) == T06_PUBLISHED
    assert checksums(DB) == published
