"""Write-audit-publish on PostgreSQL schemas.

dbt writes into a fresh build schema (the marts, and the `bi` views over them: dbt_project/models/bi,
the BI contract's one definition, with enforced contracts); the mart suites audit it; publish() then,
in ONE transaction, renames the build schema to `marts`, moves the build's `bi` views into `bi` in
place of the old ones (they read the build's relations, which are now `marts`; their comments are
dbt's persist_docs), drops the old marts and upserts target_progress_history for the snapshot date. A
failed or killed run never reaches that transaction, and PostgreSQL's DDL is transactional, so
readers see either yesterday's published state or today's, never a mix. A date older than the
latest published one (a backfill, or a rerun of a past date) only replaces its own history rows:
`marts` and `bi` keep showing the latest date.

BI cannot block it (docs/reliability.md "BI cannot starve or block the warehouse"): before any DDL the
publish takes every lock the swap needs (access exclusive on the `bi` views and the tables of `marts`)
in one LOCK TABLE, in short tries (settings.PUBLISH_LOCK_TRY_MS: a BI query arriving meanwhile waits
at most that long, then runs on the old night) until settings.PUBLISH_LOCK_WAIT_S, longer than every
BI timeout (statement, idle in transaction, lock: roles.role_settings). Past it, the BI sessions still
holding a read on them (a client that lifted its own timeouts) are ended and the publish goes on; any
other holder fails the publish, naming it, before anything changed. A BI transaction open across the
publish keeps its locks, so it reads the old night whole; the next reads the new one whole.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import yaml
from psycopg import sql

from greencert import settings

log = logging.getLogger(__name__)

PUBLISHED = "marts"
RETIRING = "marts_retiring"
LOCK_KEY = 0x6772656E  # one publisher at a time, whatever DAG run it comes from


BI_MODELS_YML = settings.DBT_PROJECT_DIR / "models" / "bi" / "_bi__models.yml"
BI_MODEL_PREFIX = "bi_"  # dbt model bi_<name> is published as the view bi.<name>


@dataclass(frozen=True)
class BIView:
    """One view of the BI contract, as dbt defines it (dbt_project/models/bi: its SQL, its columns with
    their data types under an enforced contract, its comments through persist_docs). dbt builds it as the
    view `model` in the build schema, over that build's marts (or the history); the publish moves it into
    `bi` under `name`."""

    name: str
    model: str
    columns: tuple[str, ...]
    comment: str


def bi_views(path: Path = BI_MODELS_YML) -> tuple[BIView, ...]:
    """The BI contract, read from the bi models' dbt YAML (its one definition)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    models = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)["models"]  # noqa: S506 (a safe loader)
    return tuple(
        BIView(
            m["name"].removeprefix(BI_MODEL_PREFIX), m["name"], tuple(c["name"] for c in m["columns"]), m["description"]
        )
        for m in models
    )


# The BI contract: stable view names and column lists over the published marts and the history
# (readers: greencert_bi_reader only). A new mart column reaches BI only when added to its bi model.
BI_VIEWS: tuple[BIView, ...] = bi_views()

HISTORY_COLUMNS = (
    "target_id",
    "region_code",
    "region_name",
    "actual_value",
    "target_value",
    "percent_of_target",
    "progress_status",
)


def build_schema_for(as_of: date) -> str:
    """A build schema named after its date, for builds made by hand (tests, `dbt build` by an engineer)."""
    return f"build_{as_of:%Y%m%d}"


# The nightly always builds into this one schema: dbt's partial parsing holds only while the
# profile (its schema included) and the vars stay the same from one night to the next. The date
# lives in the schema itself (build_info); a failed night's build stays here for inspection until
# the next run starts over.
NIGHTLY_BUILD = "build_nightly"


def _check_name(schema: str) -> sql.Identifier:
    if not re.fullmatch(r"build_[0-9a-z_]+", schema):
        raise ValueError(f"not a build schema name: {schema!r}")
    return sql.Identifier(schema)


def prepare_build(conninfo: str, schema: str, as_of: date | None = None) -> str:
    """A fresh, empty build schema (a rerun starts from scratch), holding its as-of date in
    build_info, which dbt's as_of_date() reads when no --vars override it."""
    ident = _check_name(schema)
    with psycopg.connect(conninfo) as conn:
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(ident))
        conn.execute(sql.SQL("create schema {}").format(ident))
        if as_of is not None:
            conn.execute(sql.SQL("create table {}.build_info (as_of_date date not null)").format(ident))
            conn.execute(sql.SQL("insert into {}.build_info values (%s)").format(ident), (as_of,))
            conn.execute(
                sql.SQL("comment on table {}.build_info is {}").format(
                    ident, sql.Literal("构建日期 — the snapshot date this build counts on (written before dbt runs)")
                )
            )
    return schema


@dataclass(frozen=True)
class Published:
    schema: str
    snapshot_date: date
    history_rows_written: int
    history_rows_total: int
    lock_wait_s: float = 0.0  # waiting for BI's reads on bi/marts to end
    bi_sessions_ended: int = 0  # BI sessions that held a read past PUBLISH_LOCK_WAIT_S, ended


def publish(
    conninfo: str,
    build_schema: str,
    snapshot_date: date,
    *,
    lock_wait_s: float | None = None,
    lock_try_ms: int | None = None,
) -> Published:
    ident = _check_name(build_schema)
    waited, ended = 0.0, 0
    with psycopg.connect(conninfo) as conn, conn.transaction():
        conn.execute("set local lock_timeout = '60s'")
        conn.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        found = conn.execute("select to_regclass(%s) is not null", (f"{build_schema}.fct_target_progress",)).fetchone()
        if not found or not found[0]:
            raise RuntimeError(f"build schema {build_schema} has no fct_target_progress: nothing to publish")
        dates = conn.execute(sql.SQL("select distinct as_of_date from {}.fct_target_progress").format(ident)).fetchall()
        if [d[0] for d in dates] != [snapshot_date]:
            raise RuntimeError(f"build {build_schema} is for {dates}, not for snapshot date {snapshot_date}")
        latest = conn.execute("select max(snapshot_date) from history.target_progress_history").fetchone()
        if latest and latest[0] and snapshot_date < latest[0]:
            # a backfill or a rerun of a past date: its history rows are replaced, while `marts` and
            # `bi` keep showing the latest date
            written = _upsert_history(conn, snapshot_date, build_schema, source=ident)
            conn.execute(sql.SQL("drop schema {} cascade").format(ident))
            published_as = "history"
        else:
            waited, ended = _lock_published(
                conn,
                settings.PUBLISH_LOCK_WAIT_S if lock_wait_s is None else lock_wait_s,
                settings.PUBLISH_LOCK_TRY_MS if lock_try_ms is None else lock_try_ms,
            )
            _swap(conn, build_schema)
            written = _upsert_history(conn, snapshot_date, build_schema, source=sql.Identifier(PUBLISHED))
            published_as = PUBLISHED
        total = conn.execute(
            "select count(*) from history.target_progress_history where snapshot_date = %s", (snapshot_date,)
        ).fetchone()
    return Published(published_as, snapshot_date, written, total[0] if total else 0, waited, ended)


BI_ROLE = "greencert_bi_reader"


def _lock_published(conn: psycopg.Connection, wait_s: float, try_ms: int) -> tuple[float, int]:
    """Every lock the swap takes that a BI session may hold, taken up front (see the module's doc): the
    bi views (LOCK TABLE locks what a view reads too: the marts tables and the history) and the tables
    of marts (the views dbt left there read staging and raw, which BI cannot reach and the transformer
    may not lock exclusively); how long it waited and how many BI sessions it ended."""
    rels = conn.execute(
        """select c.oid::regclass::text, n.nspname, c.relname from pg_class c
           join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = 'bi' and c.relkind = 'v' or n.nspname = any(%s) and c.relkind in ('r', 'p', 'm')
           order by 2, 3""",
        ([PUBLISHED, RETIRING],),
    ).fetchall()
    if not rels:
        return 0.0, 0
    stmt = sql.SQL("lock table {} in access exclusive mode").format(
        sql.SQL(", ").join(sql.Identifier(schema, name) for _, schema, name in rels)
    )
    start = time.monotonic()
    ended = 0
    try_ms = max(int(try_ms), 1)
    while True:
        try:
            with conn.transaction():  # a savepoint: a try that times out leaves the publish's transaction as it was
                conn.execute(sql.SQL("set local lock_timeout = {}").format(sql.Literal(f"{try_ms}ms")))
                conn.execute(stmt)
            break
        except psycopg.errors.LockNotAvailable:
            if time.monotonic() - start < wait_s:
                time.sleep(min(try_ms / 1000, 1.0))  # BI queries queued behind the try run meanwhile
                continue
            holders = conn.execute(
                """select distinct l.pid, a.usename::text from pg_locks l join pg_stat_activity a on a.pid = l.pid
                   where l.granted and l.pid <> pg_backend_pid()
                     and l.database = (select oid from pg_database where datname = current_database())
                     and l.relation = any(%s::regclass[])""",
                ([r[0] for r in rels],),
            ).fetchall()
            others = [(pid, user) for pid, user in holders if user != BI_ROLE]
            if others or not holders:
                raise RuntimeError(
                    f"publish: could not lock bi and {PUBLISHED} within {wait_s:.0f} s: held by "
                    + (", ".join(f"pid {pid} ({user})" for pid, user in others) or "sessions that ended meanwhile")
                    + "; nothing was published"
                ) from None
            for pid, _ in holders:
                terminated = conn.execute("select pg_terminate_backend(%s, 5000)", (pid,)).fetchone()
                if terminated is not None and terminated[0]:
                    ended += 1
            log.warning(
                "publish: ended %d BI session(s) holding a read on bi past %.0f s (pids %s)",
                len(holders),
                wait_s,
                ", ".join(str(p) for p, _ in holders),
            )
            try_ms = max(try_ms, 5000)
    conn.execute("set local lock_timeout = '60s'")
    return time.monotonic() - start, ended


def _swap(conn: psycopg.Connection, schema: str) -> None:
    """The build becomes `marts`; the `bi` views dbt built in it (models/bi) move into `bi`, replacing
    last night's. A view follows its relations by identity, not by name, so once the build is `marts`
    its views read `marts` (and the history); each keeps the comments dbt gave it and is granted to
    BI's reader (default privileges apply to what is created in `bi`, not to what is moved there)."""
    build = _check_name(schema)
    built = {
        r[0]
        for r in conn.execute(
            "select c.relname from pg_class c where c.relnamespace = %s::regnamespace and c.relkind = 'v'", (schema,)
        ).fetchall()
    }
    missing = [view.model for view in BI_VIEWS if view.model not in built]
    if missing:  # a build made by hand with --select, or an older build: refused before anything changed
        raise RuntimeError(
            f"build schema {schema} has no bi view {', '.join(missing)} (dbt_project/models/bi): nothing published"
        )
    for view in BI_VIEWS:
        conn.execute(sql.SQL("drop view if exists bi.{}").format(sql.Identifier(view.name)))
    has_marts = conn.execute("select 1 from pg_namespace where nspname = %s", (PUBLISHED,)).fetchone()
    conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(RETIRING)))
    if has_marts:
        conn.execute(
            sql.SQL("alter schema {} rename to {}").format(sql.Identifier(PUBLISHED), sql.Identifier(RETIRING))
        )
    conn.execute(sql.SQL("alter schema {} rename to {}").format(build, sql.Identifier(PUBLISHED)))
    for view in BI_VIEWS:
        _move_bi_view(conn, view)
    conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(RETIRING)))


def _move_bi_view(conn: psycopg.Connection, view: BIView) -> None:
    """marts.<model> (dbt's view, with its comments) becomes bi.<name>, readable by BI's reader only."""
    conn.execute(sql.SQL("alter view {} set schema bi").format(sql.Identifier(PUBLISHED, view.model)))
    if view.model != view.name:
        conn.execute(
            sql.SQL("alter view {} rename to {}").format(sql.Identifier("bi", view.model), sql.Identifier(view.name))
        )
    conn.execute(sql.SQL("grant select on {} to {}").format(sql.Identifier("bi", view.name), sql.Identifier(BI_ROLE)))


def _upsert_history(conn: psycopg.Connection, snapshot_date: date, build_id: str, source: sql.Identifier) -> int:
    """Replace the snapshot date's rows with `source`.fct_target_progress; rows whose numbers did not
    change are left untouched."""
    conn.execute(
        sql.SQL(
            """delete from history.target_progress_history h
           where h.snapshot_date = %s and not exists (
               select 1 from {}.fct_target_progress p
               where p.target_id = h.target_id and p.region_code = h.region_code)"""
        ).format(source),
        (snapshot_date,),
    )
    cur = conn.execute(
        sql.SQL(
            """insert into history.target_progress_history as h
               (snapshot_date, target_id, region_code, region_name, numerator_value, denominator_value,
                actual_value, target_value, percent_of_target, trajectory_value, projected_value,
                progress_status, build_id, published_at)
           select as_of_date, target_id, region_code, region_name_zh, numerator_value, denominator_value,
                  actual_value, target_value, percent_of_target, trajectory_value, projected_value,
                  progress_status, %s, now()
           from {}.fct_target_progress
           on conflict (snapshot_date, target_id, region_code) do update set
               region_name = excluded.region_name,
               numerator_value = excluded.numerator_value,
               denominator_value = excluded.denominator_value,
               actual_value = excluded.actual_value,
               target_value = excluded.target_value,
               percent_of_target = excluded.percent_of_target,
               trajectory_value = excluded.trajectory_value,
               projected_value = excluded.projected_value,
               progress_status = excluded.progress_status,
               build_id = excluded.build_id,
               published_at = excluded.published_at
           where (h.region_name, h.numerator_value, h.denominator_value, h.actual_value, h.target_value,
                  h.percent_of_target, h.trajectory_value, h.projected_value, h.progress_status)
                 is distinct from
                 (excluded.region_name, excluded.numerator_value, excluded.denominator_value, excluded.actual_value,
                  excluded.target_value, excluded.percent_of_target, excluded.trajectory_value,
                  excluded.projected_value, excluded.progress_status)"""
        ).format(source),
        (build_id,),
    )
    return cur.rowcount
