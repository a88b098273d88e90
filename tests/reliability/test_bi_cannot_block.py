"""BI cannot starve or block the warehouse (issue 15; docs/reliability.md), with real
greencert_bi_reader sessions logging in with its real password:

- connections: each role has its CONNECTION LIMIT (settings.CONNECTION_LIMITS); BI's sessions up to
  its limit are served, the next is refused with PostgreSQL's "too many connections for role", and
  the loader and the transformer still log in and work; the server keeps reserved_connections for
  them (pg_use_reserved_connections), and the limits fit in the slots left;
- BI's sessions default to a statement, an idle-in-transaction and a lock timeout (settings.BI_*);
  the loader's and the transformer's do not;
- a real publish while one BI session sits idle in a transaction that read a `bi` view, one runs a
  long query on one, and one reads the views again and again: the publish succeeds within its bound
  (settings.PUBLISH_LOCK_WAIT_S, scaled down here with BI's timeouts), every BI read sees the old
  night or the new one whole and none fails, a BI read waits at most about one lock try, and the
  history holds both dates, the old one byte for byte;
- a BI session that lifted its own timeouts and holds a read on `bi` past the bound is ended by the
  publish, which then goes on.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from greencert import settings
from greencert.publish.swap import publish
from greencert.serve.stack import METADATA_ROLE
from greencert.warehouse import roles

from ..integration.helpers import admin_url_for
from .faults import D, checksums, copy_build, copy_night, history_dates

DB = "greencert_bi_block"
BI = roles.role_name("bi_reader")
# the night as BI reads it: two views in one statement (bi.regions is one the idle session below holds)
NIGHT_QUERY = (
    "select array_agg(distinct as_of_date), count(*) + 0 * (select count(*) from bi.regions) from bi.target_progress"
)


@pytest.fixture(scope="module")
def urls(night):
    return copy_night(DB)


def _bi_sessions() -> int:
    with psycopg.connect(admin_url_for(DB)) as conn:
        return conn.execute("select count(*) from pg_stat_activity where usename = %s", (BI,)).fetchone()[0]


def test_each_role_has_its_connection_limit_and_the_server_keeps_slots_for_the_warehouse(urls) -> None:
    with psycopg.connect(admin_url_for(DB)) as conn:
        # the warehouse's roles; not Airflow's metadata role, which the stack tests create in the same
        # server (serve/stack.py; its connections are Airflow's pools)
        limits = dict(
            conn.execute(
                "select rolname::text, rolconnlimit from pg_roles where rolname like 'greencert_%%' "
                "and rolcanlogin and rolname <> %s",
                (METADATA_ROLE,),
            ).fetchall()
        )
        reserved, max_conn, superuser = (
            int(conn.execute(f"show {s}").fetchone()[0])
            for s in ("reserved_connections", "max_connections", "superuser_reserved_connections")
        )
    assert limits == {roles.role_name(r): n for r, n in settings.CONNECTION_LIMITS.items()}
    assert reserved == settings.PG_RESERVED_CONNECTIONS > 0
    # every role at its limit at once still leaves the reserved and the superuser's slots free
    assert sum(limits.values()) <= max_conn - superuser - reserved


def test_bi_beyond_its_limit_is_refused_and_the_loader_and_transformer_still_work(urls) -> None:
    limit = settings.CONNECTION_LIMITS["bi_reader"]
    held: list[psycopg.Connection] = []
    try:
        for _ in range(limit - _bi_sessions()):
            held.append(psycopg.connect(urls["bi_reader"], autocommit=True))
        assert all(c.execute("select count(*) from bi.regions").fetchone()[0] > 0 for c in held[:3])
        with pytest.raises(psycopg.OperationalError, match=f'too many connections for role "{BI}"'):
            psycopg.connect(urls["bi_reader"]).close()
        with psycopg.connect(urls["loader"]) as conn:
            conn.execute("update raw.landing_manifest set reason = reason")
            assert conn.execute("select count(*) from raw.certificates").fetchone()[0] > 0
        with psycopg.connect(urls["transformer"]) as conn:
            assert conn.execute("select count(*) from marts.fct_target_progress").fetchone()[0] > 0
            conn.execute(
                "insert into dq.validation_runs (run_id, suite, target, expectation, success) "
                "values ('bi-limit', 'probe', 'probe', 'probe', true)"
            )
    finally:
        for conn in held:
            conn.close()
    psycopg.connect(urls["bi_reader"]).close()  # a slot again once BI let go


def test_bi_sessions_default_to_timeouts_and_the_warehouse_roles_do_not(urls) -> None:
    names = ("statement_timeout", "idle_in_transaction_session_timeout", "lock_timeout")
    with psycopg.connect(urls["bi_reader"]) as conn:
        got = tuple(
            conn.execute(f"select setting::int, unit from pg_settings where name = '{n}'").fetchone() for n in names
        )
        normal = conn.execute(
            "select " + ", ".join(["extract(epoch from %s::interval)::int * 1000"] * 3),
            (settings.BI_STATEMENT_TIMEOUT, settings.BI_IDLE_IN_TRANSACTION_TIMEOUT, settings.BI_LOCK_TIMEOUT),
        ).fetchone()
    assert tuple(v for v, _ in got) == normal and all(v > 0 for v in normal) and {u for _, u in got} == {"ms"}
    for role in ("loader", "transformer"):
        with psycopg.connect(urls[role]) as conn:
            assert [conn.execute(f"show {n}").fetchone()[0] for n in names] == ["0", "0", "0"], role


class Reader(threading.Thread):
    """A BI client reading bi.target_progress again and again (a new statement each time, autocommit):
    what it saw, how long each read took, any error."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop, self.seen, self.errors, self.slowest = url, threading.Event(), [], [], 0.0

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                start = time.monotonic()
                try:
                    dates, n = conn.execute(NIGHT_QUERY).fetchone()
                    self.seen.append((tuple(dates), n))
                except psycopg.Error as exc:  # pragma: no cover - the assertion shows it
                    self.errors.append(str(exc))
                self.slowest = max(self.slowest, time.monotonic() - start)
                time.sleep(0.05)


def _history_of(database: str, day) -> str:
    with psycopg.connect(admin_url_for(database)) as conn:
        return "".join(
            r[0]
            for r in conn.execute(
                "select md5(h::text) from history.target_progress_history h where snapshot_date = %s order by 1", (day,)
            )
        )


def test_a_publish_succeeds_while_bi_sessions_hold_reads_and_bi_sees_one_night_whole(urls) -> None:
    new = D + timedelta(days=1)
    build = copy_build(urls, "build_bi_block", new)
    with psycopg.connect(urls["bi_reader"]) as conn:
        old = conn.execute(NIGHT_QUERY).fetchone()
    old = (tuple(old[0]), old[1])
    assert old[0] == (D,)
    old_history = _history_of(DB, D)
    # BI's timeouts, scaled down for the test (the role's defaults: settings.BI_*); the publish's bound
    # above them, as PUBLISH_LOCK_WAIT_S is above the defaults
    idle = psycopg.connect(make_conninfo(urls["bi_reader"], options="-c idle_in_transaction_session_timeout=3s"))
    assert idle.execute("select distinct as_of_date from bi.target_progress").fetchall() == [(D,)]
    assert idle.execute("select count(*) from bi.regions").fetchone()[0] > 0  # a second view, same transaction
    long_result: list = []

    def long_query() -> None:
        with psycopg.connect(urls["bi_reader"], autocommit=True) as conn:
            try:
                long_result.append(
                    conn.execute(
                        "select pg_sleep(2), (select array_agg(distinct as_of_date) from bi.target_progress)"
                    ).fetchone()[1]
                )
            except psycopg.Error as exc:  # pragma: no cover
                long_result.append(exc)

    slow = threading.Thread(target=long_query, daemon=True)
    slow.start()
    reader = Reader(urls["bi_reader"])
    reader.start()
    time.sleep(0.5)
    start = time.monotonic()
    done = publish(urls["transformer"], build, new, lock_wait_s=10, lock_try_ms=300)
    elapsed = time.monotonic() - start
    time.sleep(0.5)
    reader.stop.set()
    reader.join(30)
    slow.join(30)
    print(
        f"publish under BI reads: {elapsed:.2f} s (lock wait {done.lock_wait_s:.2f} s); {len(reader.seen)} BI reads, "
        f"slowest {reader.slowest:.2f} s"
    )
    assert done.schema == "marts" and done.bi_sessions_ended == 0
    assert 1.5 < elapsed < 10, elapsed  # it waited for BI's reads to end (the idle one at its 3 s timeout)
    assert long_result == [[D]]  # the long query finished on the old night
    with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):  # ended by its own timeout
        idle.execute("select 1")
    idle.close()
    assert reader.errors == []
    assert set(reader.seen) <= {old, ((new,), old[1])}
    first_new = next(i for i, s in enumerate(reader.seen) if s[0] == (new,))
    assert all(s[0] == (D,) for s in reader.seen[:first_new]) and all(s[0] == (new,) for s in reader.seen[first_new:])
    assert reader.slowest < 3.0, reader.slowest  # a read waits about one lock try (0.3 s), not the publish
    assert history_dates(DB) == {D: old[1], new: old[1]}
    assert _history_of(DB, D) == old_history


def test_a_bi_session_that_lifted_its_timeouts_is_ended_and_the_publish_goes_on(urls) -> None:
    with psycopg.connect(urls["bi_reader"]) as conn:
        (latest,) = conn.execute("select max(as_of_date) from bi.target_progress").fetchone()
    new = latest + timedelta(days=1)
    build = copy_build(urls, "build_bi_block_2", new)
    stuck = psycopg.connect(urls["bi_reader"])
    stuck.execute("set idle_in_transaction_session_timeout = 0")
    stuck.execute("set statement_timeout = 0")
    assert stuck.execute("select distinct as_of_date from bi.target_progress").fetchall() == [(latest,)]
    before = checksums(DB, ("history",))
    start = time.monotonic()
    done = publish(urls["transformer"], build, new, lock_wait_s=2, lock_try_ms=200)
    elapsed = time.monotonic() - start
    print(f"publish past a BI session without timeouts: {elapsed:.2f} s, {done.bi_sessions_ended} ended")
    assert done.schema == "marts" and done.bi_sessions_ended == 1
    assert elapsed < 15, elapsed
    with pytest.raises(psycopg.OperationalError):
        stuck.execute("select 1")
    stuck.close()
    with psycopg.connect(urls["bi_reader"]) as conn:
        assert conn.execute("select array_agg(distinct as_of_date) from bi.target_progress").fetchone()[0] == [new]
    after = checksums(DB, ("history",))
    assert after != before and history_dates(DB)[new] == history_dates(DB)[latest]
