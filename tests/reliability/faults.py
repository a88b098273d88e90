"""Helpers for the fault tests (test_kill, test_restart, test_concurrency): a small warehouse with
hand-made certificates whose answers are worked out by hand (tests/integration/test_dbt_build.py),
the nightly's own steps (land → load → raw gate → prepare_build → dbt build → mart gate → publish)
called directly, the same steps in a child process that a test can kill -9, and checksums of every
row of what is published."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql

from greencert import environment, feeds, settings, subprocesses, warehouse
from greencert.extract.files import land_new_files
from greencert.load.copy_batch import load_batch
from greencert.publish.swap import BI_VIEWS, build_schema_for, prepare_build, publish
from greencert.quality import mart_gate
from greencert.quality.raw_gate import run_raw_gate
from greencert.warehouse import roles

from ..integration.helpers import admin_url_for, cert, write_csv
from ..integration.test_dbt_build import EXPECTED_T06, ROWS

D = date(2025, 6, 30)
CERTS = feeds.get("certificates")
PUBLISHED_SCHEMAS = ("marts", "bi", "history")


def ingest(urls: dict[str, str], tmp: Path, name: str, rows: list[dict[str, str]], day: date = D) -> str:
    """One certificates file through land → load → raw gate; its batch id."""
    write_csv(tmp / "drop" / name, rows)
    batches = land_new_files(CERTS, urls["loader"], day, dropbox=tmp / "drop", landing=tmp / "landing")
    (tmp / "drop" / name).unlink()
    for batch in batches:
        load_batch(CERTS, urls["loader"], batch)
        assert run_raw_gate(CERTS, urls["loader"], batch.batch_id, run_id="fault").success
    return batches[-1].batch_id


def dbt_build_args(day: date) -> list[str]:
    # the models only (their dbt tests are test_dbt_build's business): the nightly's writes, faster
    return ["build", "--exclude-resource-type", "test", "--vars", f"{{as_of_date: '{day}'}}"]


def build(urls: dict[str, str], day: date = D) -> str:
    """The nightly's prepare_build and dbt steps: a complete build schema for `day`."""
    schema = prepare_build(urls["transformer"], build_schema_for(day))
    subprocesses.dbt(dbt_build_args(day), environment.dbt_env(urls["transformer"], schema))
    return schema


def audit_and_publish(urls: dict[str, str], schema: str, day: date = D) -> None:
    outcome = mart_gate.audit(urls["transformer"], schema, run_id="fault")
    assert outcome.success, outcome.summary()
    publish(urls["transformer"], schema, day)


NIGHT = "greencert_fault_night"


def clean_night(fresh_database, tmp: Path) -> dict[str, str]:
    """A fresh database with the hand-made certificates published for D by a clean night; the fault
    tests each start from a copy of it (`copy_night`)."""
    urls = fresh_database(NIGHT)
    if not (settings.DBT_PROJECT_DIR / "target" / "manifest.json").exists():
        subprocesses.dbt_parse()
    ingest(urls, tmp, "certs.csv", ROWS)
    audit_and_publish(urls, build(urls))
    assert t06(urls) == {**EXPECTED_T06, "320500": sum(EXPECTED_T06.values())}
    return urls


def copy_night(database: str) -> dict[str, str]:
    """A new database copied from the clean night (PostgreSQL's template copy: seconds, not a build),
    with production's grants; its role URLs."""
    with psycopg.connect(admin_url_for(NIGHT), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{database}" with (force)')
        # this process's pooled GX connections to the night would block the copy
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
            (NIGHT,),
        )
        conn.execute(f'create database "{database}" template "{NIGHT}"')
    # a database's own privileges (connect, create) are not copied: production's grants, again
    return roles.bootstrap(warehouse.admin_url(), database)


def t06(urls: dict[str, str]) -> dict[str, int]:
    """T06 (EMS certificates) as BI sees it: worked out by hand in test_dbt_build (EXPECTED_T06)."""
    with psycopg.connect(urls["bi_reader"]) as conn:
        rows = conn.execute(
            "select region_code, actual_value from bi.target_progress where target_id = 'T06' and actual_value > 0"
        ).fetchall()
    return {r: int(v) for r, v in rows}


def checksums(database: str, schemas: tuple[str, ...] = PUBLISHED_SCHEMAS) -> dict[str, str]:
    """Every table and view of `schemas`: its row count and a digest of every row (order independent),
    plus each bi view's definition. Read as the admin, so nothing is hidden."""
    out = {}
    with psycopg.connect(admin_url_for(database)) as conn:
        relations = conn.execute(
            """select n.nspname, c.relname, c.relkind, pg_get_viewdef(c.oid) from pg_class c
               join pg_namespace n on n.oid = c.relnamespace
               where n.nspname = any(%s) and c.relkind in ('r', 'v', 'm', 'p') order by 1, 2""",
            (list(schemas),),
        ).fetchall()
        for schema, name, kind, viewdef in relations:
            rows = sorted(r[0] for r in conn.execute(f'select md5(t::text) from "{schema}"."{name}" t'))
            digest = hashlib.sha256("".join(rows).encode()).hexdigest()
            out[f"{schema}.{name}"] = f"{kind}:{len(rows)}:{digest}" + (f":{viewdef}" if viewdef else "")
    return out


def history_dates(database: str) -> dict[date, int]:
    with psycopg.connect(admin_url_for(database)) as conn:
        return dict(
            conn.execute(
                "select snapshot_date, count(*) from history.target_progress_history group by 1 order by 1"
            ).fetchall()
        )


def wait_for(what: str, probe: Callable[[], object], timeout_s: float = 120, every_s: float = 0.02) -> object:
    deadline = time.monotonic() + timeout_s
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every_s)


def sessions(database: str, where: str = "true", args: tuple = ()) -> list[tuple]:
    """Other sessions on `database` (pid, usename, state, wait_event_type, query) matching `where`."""
    with psycopg.connect(admin_url_for(database)) as conn:
        return conn.execute(
            f"""select pid, usename, state, wait_event_type, query from pg_stat_activity
                where datname = %s and pid <> pg_backend_pid() and backend_type = 'client backend'
                  and ({where})""",
            (database, *args),
        ).fetchall()


def pids(database: str, role: str) -> set[int]:
    return {pid for pid, *_ in sessions(database, "usename = %s", (role,))}


def wait_until_gone(database: str, role: str, before: set[int]) -> None:
    """A killed client's server sessions (the role's, except those open `before` it started, such as
    this process's own pooled GX connections) end, rolling back, once the server notices: wait for that."""

    def left() -> list[tuple]:
        return [s for s in sessions(database, "usename = %s", (role,)) if s[0] not in before]

    try:
        wait_for(f"{role}'s sessions on {database} to end", lambda: not left(), timeout_s=60, every_s=0.1)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {left()}") from None


def spawn(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.Popen:
    """A child process (its own: kill -9 hits only it), its output kept in a file (never a pipe a
    chatty child could block on)."""
    log = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, text=True)
    proc.log = log  # type: ignore[attr-defined]
    return proc


def child(code: str, urls: dict[str, str]) -> subprocess.Popen:
    """Python `code` in a child process with this session's settings. The code may use `loader` and
    `transformer` (the role URLs, passed in its environment)."""
    env = dict(
        os.environ,
        PYTHONPATH=str(settings.ROOT / "plugins"),
        GREENCERT_VAR=str(settings.VAR),
        GREENCERT_PG_PORT=str(settings.PG_PORT),
        FAULT_LOADER_URL=urls["loader"],
        FAULT_TRANSFORMER_URL=urls["transformer"],
    )
    prelude = "import os\nloader, transformer = os.environ['FAULT_LOADER_URL'], os.environ['FAULT_TRANSFORMER_URL']\n"
    return spawn([sys.executable, "-c", prelude + textwrap.dedent(code)], env)


def dbt_child(urls: dict[str, str], schema: str, day: date = D) -> subprocess.Popen:
    """The nightly's dbt step (`dbt build` into `schema`) as a process of its own."""
    return spawn(
        [str(subprocesses.DBT_BIN), *dbt_build_args(day)],
        environment.dbt_env(urls["transformer"], schema),
        cwd=settings.DBT_PROJECT_DIR,
    )


def output(proc: subprocess.Popen) -> str:
    proc.log.seek(0)  # type: ignore[attr-defined]
    return proc.log.read()  # type: ignore[attr-defined]


def kill9(proc: subprocess.Popen) -> None:
    assert proc.poll() is None, f"the child ended before it could be killed:\n{output(proc)}"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def big_certificates(n: int) -> list[dict[str, str]]:
    """n quality-management certificates (counting towards no target: published numbers stay the
    same once they are in), enough for a COPY that lasts."""
    return [cert(f"QMS{i:07d}", **{"行政区划代码": "320505", "认证项目": "质量管理体系认证"}) for i in range(n)]


def copy_build(urls: dict[str, str], schema: str, day: date, t09: int | None = None) -> str:
    """A build for `day` made from what is published (every marts table copied, its as_of_date set
    to `day`), as the transformer: what publish() needs, without a dbt build. `t09` sets the city's
    T09 number, so two builds of one date can be told apart."""
    prepare_build(urls["transformer"], schema)
    with psycopg.connect(urls["transformer"]) as conn:
        tables = [
            r[0] for r in conn.execute("select table_name from information_schema.tables where table_schema = 'marts'")
        ]
        for table in tables:
            conn.execute(f'create table "{schema}"."{table}" as table marts."{table}"')
            if conn.execute(
                "select 1 from information_schema.columns where table_schema = %s "
                "and table_name = %s and column_name = 'as_of_date'",
                (schema, table),
            ).fetchone():
                conn.execute(f'update "{schema}"."{table}" set as_of_date = %s', (day,))
        for view in BI_VIEWS:  # the bi views, as dbt builds them into a build (models/bi): over its tables
            definition = conn.execute("select pg_get_viewdef(%s::regclass)", (f"bi.{view.name}",)).fetchone()[0]
            conn.execute(f'create view "{schema}"."{view.model}" as ' + definition.replace("marts.", f'"{schema}".'))
            conn.execute(
                sql.SQL("comment on view {} is {}").format(
                    sql.Identifier(schema, view.model), sql.Literal(view.comment)
                )
            )
            for column, comment in conn.execute(
                "select attname, col_description(attrelid, attnum) from pg_attribute "
                "where attrelid = %s::regclass and attnum > 0",
                (f"bi.{view.name}",),
            ).fetchall():
                if comment:
                    conn.execute(
                        sql.SQL("comment on column {} is {}").format(
                            sql.Identifier(schema, view.model, column), sql.Literal(comment)
                        )
                    )
        if t09 is not None:
            conn.execute(
                f"update {schema}.fct_target_progress set actual_value = %s, numerator_value = %s "
                "where target_id = 'T09' and region_code = '320500'",
                (t09, t09),
            )
    return schema


def tables_of(database: str, schema: str) -> dict[str, str]:
    """checksums() of one schema's tables, keyed by table name (to compare a build with `marts`); not
    the build's bi views, which the publish moves into `bi`."""
    bi_models = {view.model for view in BI_VIEWS}
    tables = {k.split(".", 1)[1]: v for k, v in checksums(database, (schema,)).items()}
    return {name: v for name, v in tables.items() if name not in bi_models}


def named(url: str, name: str) -> str:
    """The URL's connection with an application_name, to tell its session apart in pg_stat_activity."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo(url, application_name=name)


def waiting_on_advisory(database: str, application_name: str) -> bool:
    with psycopg.connect(admin_url_for(database)) as conn:
        return bool(
            conn.execute(
                """select 1 from pg_locks l join pg_stat_activity a on a.pid = l.pid
               where a.datname = %s and a.application_name = %s and l.locktype = 'advisory' and not l.granted""",
                (database, application_name),
            ).fetchone()
        )


def holding_advisory_waiting_on_history(database: str, application_name: str) -> bool:
    with psycopg.connect(admin_url_for(database)) as conn:
        return bool(
            conn.execute(
                """select 1 from pg_locks l join pg_stat_activity a on a.pid = l.pid
               where a.datname = %s and a.application_name = %s and l.locktype = 'advisory' and l.granted
                 and a.wait_event_type = 'Lock' and a.query like '%%target_progress_history%%'""",
                (database, application_name),
            ).fetchone()
        )
