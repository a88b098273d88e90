"""Write-audit-publish on PostgreSQL schemas.

dbt writes into a fresh build schema; the mart suites audit it; publish() then, in ONE
transaction, renames the build schema to `marts`, re-points the `bi` views at it, drops the old
marts and upserts target_progress_history for the snapshot date. A failed or killed run never
reaches that transaction, and PostgreSQL's DDL is transactional, so readers see either
yesterday's published state or today's, never a mix. A date older than the latest published one
(a backfill, or a rerun of a past date) only replaces its own history rows: `marts` and `bi` keep
showing the latest date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql

PUBLISHED = "marts"
RETIRING = "marts_retiring"
LOCK_KEY = 0x6772656E  # one publisher at a time, whatever DAG run it comes from

# The BI contract: stable view names over the published marts (columns documented in dbt).
BI_VIEWS: dict[str, str] = {
    "target_progress": "select * from marts.fct_target_progress",
    "policy_targets": "select * from marts.dim_policy_target",
    "regions": "select * from marts.dim_region",
    "target_progress_history": "select * from history.target_progress_history",
}

HISTORY_COLUMNS = (
    "target_id", "region_code", "region_name", "actual_value", "target_value",
    "percent_of_target", "progress_status",
)


def build_schema_for(as_of: date) -> str:
    return f"build_{as_of:%Y%m%d}"


def _check_name(schema: str) -> sql.Identifier:
    if not re.fullmatch(r"build_[0-9a-z_]+", schema):
        raise ValueError(f"not a build schema name: {schema!r}")
    return sql.Identifier(schema)


def prepare_build(conninfo: str, schema: str) -> str:
    """A fresh, empty build schema (a rerun of the same date starts from scratch)."""
    ident = _check_name(schema)
    with psycopg.connect(conninfo) as conn:
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(ident))
        conn.execute(sql.SQL("create schema {}").format(ident))
    return schema


@dataclass(frozen=True)
class Published:
    schema: str
    snapshot_date: date
    history_rows_written: int
    history_rows_total: int


def publish(conninfo: str, build_schema: str, snapshot_date: date) -> Published:
    ident = _check_name(build_schema)
    with psycopg.connect(conninfo) as conn, conn.transaction():
        conn.execute("set local lock_timeout = '60s'")
        conn.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        found = conn.execute(
            "select to_regclass(%s) is not null", (f"{build_schema}.fct_target_progress",)
        ).fetchone()
        if not found or not found[0]:
            raise RuntimeError(f"build schema {build_schema} has no fct_target_progress: nothing to publish")
        dates = conn.execute(
            sql.SQL("select distinct as_of_date from {}.fct_target_progress").format(ident)
        ).fetchall()
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
            _swap(conn, ident)
            written = _upsert_history(conn, snapshot_date, build_schema, source=sql.Identifier(PUBLISHED))
            published_as = PUBLISHED
        total = conn.execute(
            "select count(*) from history.target_progress_history where snapshot_date = %s", (snapshot_date,)
        ).fetchone()
    return Published(published_as, snapshot_date, written, total[0] if total else 0)


def _swap(conn: psycopg.Connection, build: sql.Identifier) -> None:
    """The build becomes `marts`; the `bi` views are re-pointed at it."""
    for view in BI_VIEWS:
        conn.execute(sql.SQL("drop view if exists bi.{}").format(sql.Identifier(view)))
    has_marts = conn.execute("select 1 from pg_namespace where nspname = %s", (PUBLISHED,)).fetchone()
    conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(RETIRING)))
    if has_marts:
        conn.execute(sql.SQL("alter schema {} rename to {}").format(
            sql.Identifier(PUBLISHED), sql.Identifier(RETIRING)))
    conn.execute(sql.SQL("alter schema {} rename to {}").format(build, sql.Identifier(PUBLISHED)))
    for view, query in BI_VIEWS.items():
        conn.execute(sql.SQL("create view bi.{} as " + query).format(sql.Identifier(view)))
    conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(RETIRING)))


def _upsert_history(conn: psycopg.Connection, snapshot_date: date, build_id: str, source: sql.Identifier) -> int:
    """Replace the snapshot date's rows with `source`.fct_target_progress; rows whose numbers did not
    change are left untouched."""
    conn.execute(sql.SQL(
        """delete from history.target_progress_history h
           where h.snapshot_date = %s and not exists (
               select 1 from {}.fct_target_progress p
               where p.target_id = h.target_id and p.region_code = h.region_code)""").format(source),
        (snapshot_date,),
    )
    cur = conn.execute(sql.SQL(
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
                  excluded.projected_value, excluded.progress_status)""").format(source),
        (build_id,),
    )
    return cur.rowcount
