"""Schemas, roles and grants: least privilege, created idempotently by the admin connection.

loader       writes raw.* and dq.* (landing manifest, raw batches, quarantine, explained drops): rows
             only (select, insert, update, delete), it owns none of those tables
transformer  reads raw and dq, records the mart gate in dq.validation_runs, builds dbt into build_*
             schemas, owns staging/snapshots/marts/history/bi, publishes
bi_reader    reads bi.* and nothing else
owner        greencert_owner, NOLOGIN: owns raw and dq, their tables and raw.ensure_table

No role can run code as another (docs/reliability.md "Roles cannot reach each other's code paths"):
- every role's search_path is pinned to `pg_catalog, pg_temp` (SEARCH_PATH, ALTER ROLE … SET), so no
  name any project code writes unqualified can resolve into a schema a role created (a schema named
  after a role, public, another role's temp schema); the project's SQL names its tables by schema;
- the util functions are admin-owned, SQL-standard bodies (bound at creation) or pinned with SET
  search_path; raw.ensure_table is SECURITY DEFINER with a pinned search_path and quoted identifiers;
- the tables the transformer reads (raw, dq) belong to greencert_owner, which never logs in: the
  loader, which writes them, cannot add a policy, trigger, rule or default, nor a view or function
  in their schemas (it has no CREATE there and no TRIGGER privilege);
- what bi_reader reads (the bi views, marts, history) is the transformer's: code the transformer put
  there runs as bi_reader, whose privileges are a subset of the transformer's own.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
from psycopg import sql

from greencert import settings

ROLES = ("loader", "transformer", "bi_reader")
PREFIX = "greencert_"
OWNER = "greencert_owner"  # owns raw and dq; NOLOGIN
# every project role's search_path: nothing but the catalog (and its own session's temp tables, last)
SEARCH_PATH = "pg_catalog, pg_temp"
FUNCTIONS = Path(__file__).with_name("functions.sql")


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    database: str

    def url(self, user: str, password: str) -> str:
        return f"postgresql://{quote(user)}:{quote(password, safe='')}@{self.host}:{self.port}/{self.database}"


def role_name(role: str) -> str:
    return PREFIX + role


def load_secrets(path: Path = settings.SECRETS_FILE) -> dict[str, str]:
    """role -> password: GREENCERT_<ROLE>_PASSWORD from the environment (a server's secrets), else
    generated once into var/secrets (mode 0600, git-ignored) for the embedded warehouse."""
    from_env = {r: os.environ.get(f"GREENCERT_{r.upper()}_PASSWORD") for r in ROLES}
    if all(from_env.values()):
        return {r: str(p) for r, p in from_env.items()}
    if path.exists():
        return json.loads(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    pw = {r: secrets.token_urlsafe(24) for r in ROLES}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(pw, fh)
    return pw


def ensure_database(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone():
            conn.execute(
                sql.SQL("create database {} encoding 'UTF8' template template0").format(sql.Identifier(database))
            )


def drop_database(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database)))


def role_settings(role: str) -> dict[str, str]:
    """The session defaults each role logs in with (ALTER ROLE … SET): the pinned search_path, and
    for BI its timeouts (settings.BI_*)."""
    out = {"search_path": SEARCH_PATH}
    if role == "bi_reader":
        out.update(
            {
                "statement_timeout": settings.BI_STATEMENT_TIMEOUT,
                "idle_in_transaction_session_timeout": settings.BI_IDLE_IN_TRANSACTION_TIMEOUT,
                "lock_timeout": settings.BI_LOCK_TIMEOUT,
                # a BI login's sessions are read-only unless it asks otherwise (and it may write nowhere anyway)
                "default_transaction_read_only": "on",
            }
        )
    return out


def ensure_roles(admin_url: str, passwords: dict[str, str]) -> None:
    with psycopg.connect(admin_url, autocommit=True, options=f"-c search_path={SEARCH_PATH.replace(' ', '')}") as conn:
        for role in ROLES:
            name = sql.Identifier(role_name(role))
            exists = conn.execute("select 1 from pg_roles where rolname = %s", (role_name(role),)).fetchone()
            verb = "alter" if exists else "create"
            conn.execute(
                sql.SQL(
                    verb + " role {} login nosuperuser nocreaterole nocreatedb nobypassrls "
                    "connection limit {} password {}"
                ).format(name, sql.Literal(settings.CONNECTION_LIMITS[role]), sql.Literal(passwords[role]))
            )
            for key, value in role_settings(role).items():
                conn.execute(
                    sql.SQL("alter role {} set {} = {}").format(
                        name, sql.Identifier(key), sql.SQL(value) if key == "search_path" else sql.Literal(value)
                    )
                )
        if not conn.execute("select 1 from pg_roles where rolname = %s", (OWNER,)).fetchone():
            conn.execute(
                sql.SQL("create role {} nologin nosuperuser nocreaterole nocreatedb nobypassrls").format(
                    sql.Identifier(OWNER)
                )
            )


def _swap_db(admin_url: str, database: str) -> str:
    parts = urlsplit(admin_url)
    return parts._replace(path="/" + database).geturl()


# Owned schemas: owner role -> schemas. Build schemas (build_*) are created by the transformer.
SCHEMAS = {
    OWNER: ("raw", "dq"),
    role_name("transformer"): ("staging", "snapshots", "marts", "history", "bi"),
}

# raw.<feed> for the loader, which may not create tables itself: made (and grown by the registry's
# new columns) as greencert_owner, with the loader's lock on it held to its commit (two loads of one
# feed take turns). Names are checked and quoted; the search_path is pinned.
ENSURE_TABLE = """
create or replace function raw.ensure_table(feed text, columns text[]) returns void
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
    col text;
    rel regclass;
begin
    if feed !~ '^[a-z][a-z0-9_]{0,47}$' or feed in ('landing_manifest', 'source_watermarks', 'ensure_table') then
        raise exception 'raw.ensure_table: not a feed name: %', feed using errcode = '22023';
    end if;
    rel := to_regclass(format('raw.%I', feed));
    if rel is null then
        execute format('create table if not exists raw.%I (batch_id text not null, source_file text not null, '
                       'source_row integer not null, loaded_at timestamptz not null default pg_catalog.now())', feed);
        execute format('create index if not exists %I on raw.%I (batch_id)', feed || '_batch_idx', feed);
        rel := to_regclass(format('raw.%I', feed));
    end if;
    execute format('lock table raw.%I in share row exclusive mode', feed);
    foreach col in array columns loop
        if col !~ '^[a-z][a-z0-9_]{0,62}$' then
            raise exception 'raw.ensure_table: not a column name: %', col using errcode = '22023';
        end if;
        if not exists (select from pg_attribute where attrelid = rel and attname = col and not attisdropped) then
            execute format('alter table raw.%I add column if not exists %I text', feed, col);
        end if;
    end loop;
end
$$;
revoke all on function raw.ensure_table(text, text[]) from public;
"""

DDL = """
create table if not exists raw.landing_manifest (
    batch_id     text primary key,
    feed         text not null,
    source_file  text not null,           -- name as the source sent it
    landed_path  text not null,           -- immutable copy under landing/<feed>/<date>/
    sha256       text not null,
    size_bytes   bigint not null,
    rows         integer,
    logical_date date not null,
    status       text not null default 'landed'
                 check (status in ('landed', 'loaded', 'accepted', 'rejected')),
    reason       text,
    landed_at    timestamptz not null default now(),
    loaded_at    timestamptz,
    unique (feed, sha256)
);
-- the http connector's position per feed: the next fetch asks for updated_since = updated_at;
-- boundary_keys are the natural keys already landed at exactly that 更新时间 (the fetch is
-- inclusive, so nothing stamped in the same second is lost, and these are not landed twice)
create table if not exists raw.source_watermarks (
    feed          text primary key,
    updated_at    timestamp not null,
    boundary_keys text[] not null,
    batch_id      text not null,
    fetched_at    timestamptz not null default now()
);
create table if not exists dq.validation_runs (
    run_id         text not null,
    suite          text not null,
    target         text not null,         -- batch id or schema.table validated
    expectation    text not null,
    column_name    text,
    success        boolean not null,
    observed       text,
    validated_at   timestamptz not null default now()
);
alter table dq.validation_runs add column if not exists severity text not null default 'critical';
-- rows that broke a row rule (greencert.quality.row_rules); the row itself stays in raw as sent
create table if not exists dq.quarantine (
    feed           text not null,
    batch_id       text not null,
    source_file    text not null,         -- name as the source sent it
    source_row     integer not null,      -- row number as a spreadsheet shows it (header included)
    column_name    text,
    rule           text not null,
    value          text,                  -- the offending value as sent (first 1000 characters)
    detail         text not null,
    quarantined_at timestamptz not null default now()
);
create index if not exists quarantine_batch_row_idx on dq.quarantine (batch_id, source_row);
-- a city total may fall sharply only with an explanation (the mart gate's volume-anomaly check)
create table if not exists dq.explained_drops (
    target_id      text not null,
    as_of_date     date not null,
    explanation    text not null,
    explained_by   text not null default current_user,
    explained_at   timestamptz not null default now(),
    primary key (target_id, as_of_date)
);
"""

HISTORY_DDL = """
-- which accepted batches each incremental staging model and snapshot has taken (macro
-- take_new_batches): a night reads only the batches it has not taken yet
create table if not exists staging.batches_taken (
    model     text not null,
    batch_id  text not null,
    taken_in  xid8 not null default pg_current_xact_id(),  -- the build's transaction reads its own
    taken_at  timestamptz not null default now(),
    primary key (model, batch_id)
);
-- the rules (seed contents) each incremental model that derives from them was last built with
-- (macro take_batches_of): a change of rules makes it start over
create table if not exists staging.rules_applied (
    model        text not null,
    fingerprint  text not null,
    applied_at   timestamptz not null default now(),
    primary key (model)
);
create table if not exists history.target_progress_history (
    snapshot_date     date not null,
    target_id         text not null,
    region_code       text not null,
    region_name       text not null,
    actual_value      numeric,
    target_value      numeric,
    percent_of_target numeric,
    progress_status   text not null,
    build_id          text not null,
    published_at      timestamptz not null,
    primary key (snapshot_date, target_id, region_code)
);
-- added with ratio targets (T04) and the trajectory; existing warehouses gain them on bootstrap
alter table history.target_progress_history
    add column if not exists numerator_value numeric,
    add column if not exists denominator_value numeric,
    add column if not exists trajectory_value numeric,
    add column if not exists projected_value numeric;
-- documented like the marts (dbt persist_docs): bi.target_progress_history copies these comments
comment on table history.target_progress_history is
    '目标进度历史 — one row per snapshot date × target × region, written by each publish (a rerun replaces its date)';
comment on column history.target_progress_history.snapshot_date is '统计日期 — snapshot (as-of) date';
comment on column history.target_progress_history.target_id is '目标编号 — target or indicator (T01–T12, I01–I09)';
comment on column history.target_progress_history.region_code is '区域代码 — region code (320500 = city total)';
comment on column history.target_progress_history.region_name is '区域名称 — region name';
comment on column history.target_progress_history.numerator_value is
    '分子 — what is counted (count targets), or the numerator''s sum (ratio targets); '
    'the city row is the sum of its regions';
comment on column history.target_progress_history.denominator_value is
    '分母 — the denominator''s sum for ratio targets (T04), else null; the city row is the sum of its regions';
comment on column history.target_progress_history.actual_value is
    '实际值 — actual on the snapshot date, the count or for ratio targets 100 × numerator / denominator '
    '(null when not fed)';
comment on column history.target_progress_history.target_value is '目标值 — 2025 target (city row)';
comment on column history.target_progress_history.percent_of_target is
    '完成率(%) — percent of target, actual / target × 100 (city row)';
comment on column history.target_progress_history.trajectory_value is
    '进度线 — where the straight line from the baseline to the target stood on the snapshot date (city row)';
comment on column history.target_progress_history.projected_value is
    '预测值 — where the recent trend led by the deadline, as projected on the snapshot date (city row of a target)';
comment on column history.target_progress_history.progress_status is
    '状态 — status, 达标 met / 进度正常 on track / 滞后 behind / 监测 tracked / 未接入 not fed / — region row';
comment on column history.target_progress_history.build_id is '构建批次 — the build schema that published the row';
comment on column history.target_progress_history.published_at is '发布时间 — when the row was published';
"""


def bootstrap(admin_url: str, database: str = settings.DATABASE) -> dict[str, str]:
    """Create database, roles, schemas, grants and the control tables. Safe to run again."""
    passwords = load_secrets()
    ensure_database(admin_url, database)
    ensure_roles(admin_url, passwords)
    db_url = _swap_db(admin_url, database)
    with psycopg.connect(db_url, autocommit=True, options=f"-c search_path={SEARCH_PATH.replace(' ', '')}") as conn:
        db = sql.Identifier(database)
        L, T, B = (sql.Identifier(role_name(r)) for r in ROLES)
        own = sql.Identifier(OWNER)
        row = conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()
        assert row is not None  # the role the connection is logged in as
        superuser = row[0]
        conn.execute(sql.SQL("revoke all on database {} from public").format(db))
        conn.execute("revoke create on schema public from public")
        conn.execute(sql.SQL("grant connect on database {} to {}, {}, {}").format(db, L, T, B))
        # the transformer creates a fresh build_* schema per run (write-audit-publish); a schema it
        # creates is resolved by no one else's code (every role's search_path is pinned)
        conn.execute(sql.SQL("grant create, temporary on database {} to {}").format(db, T))
        for owner, schemas in SCHEMAS.items():
            for schema in schemas:
                conn.execute(
                    sql.SQL("create schema if not exists {} authorization {}").format(
                        sql.Identifier(schema), sql.Identifier(owner)
                    )
                )
                conn.execute(
                    sql.SQL("alter schema {} owner to {}").format(sql.Identifier(schema), sql.Identifier(owner))
                )
        # raw and dq tables made by an older bootstrap belong to the loader: hand them to the owner
        for schema, table in conn.execute(
            """select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
                   where n.nspname in ('raw', 'dq') and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
                     and c.relowner <> %s::regrole order by 1, 2""",
            (OWNER,),
        ).fetchall():
            conn.execute(sql.SQL("alter table {} owner to {}").format(sql.Identifier(schema, table), own))
        grants = [
            "grant usage on schema raw, dq to {l}, {t}",
            # the loader writes rows, nothing else: no truncate, references, trigger or maintain
            "grant select, insert, update, delete on all tables in schema raw, dq to {l}",
            "alter default privileges for role {o} in schema raw, dq"
            " grant select, insert, update, delete on tables to {l}",
            "grant execute on function raw.ensure_table(text, text[]) to {l}",
            "grant select on all tables in schema raw to {t}",
            "alter default privileges for role {o} in schema raw grant select on tables to {t}",
            # the transformer reads dq and records its mart gate's results (dq.validation_runs, below)
            # but cannot add quarantine entries (staging would skip the rows) nor explain a drop away
            # (its own mart gate's guard): those are the loader's and the operator's
            "grant select on all tables in schema dq to {t}",
            "alter default privileges for role {o} in schema dq grant select on tables to {t}",
            "grant usage on schema bi to {b}",
            "alter default privileges for role {t} in schema bi grant select on tables to {b}",
            "grant select on all tables in schema bi to {b}",
            # the publish may end a BI session that still holds a read on bi past every BI timeout
            # (swap.publish): the transformer has bi_reader's privileges (a subset of its own) for
            # pg_terminate_backend, and cannot SET ROLE to it
            "grant {b} to {t} with inherit true, set false",
        ]
        conn.execute(sql.SQL("set role {}").format(own))
        conn.execute(DDL)
        conn.execute(ENSURE_TABLE)
        conn.execute("reset role")
        for grant in grants:
            conn.execute(sql.SQL(grant).format(l=L, t=T, b=B, o=own))
        if superuser:
            # PUBLIC may create large objects by default, a way to store data past every grant above; no
            # greencert role uses them (pg_catalog's ACLs are per database; needs a superuser admin)
            conn.execute(
                "revoke execute on function lo_create(oid), lo_creat(integer), lo_from_bytea(oid, bytea) from public"
            )
            # the server's reserved_connections are the loader's and the transformer's: BI cannot take them
            conn.execute(sql.SQL("grant pg_use_reserved_connections to {}, {}").format(L, T))
        # util: the shared parse/clean/code-check functions (owned by the admin; the roles run them)
        conn.execute("create schema if not exists util")
        conn.execute(FUNCTIONS.read_text(encoding="utf-8"))
        conn.execute(sql.SQL("grant usage on schema util to {}, {}").format(L, T))
        conn.execute(sql.SQL("revoke insert on all tables in schema dq from {}").format(T))  # granted before
        conn.execute(sql.SQL("grant insert on dq.validation_runs to {}").format(T))
        # every feed's raw table exists from the start, so a feed that has not delivered yet
        # leaves its targets at zero instead of breaking the build
        from greencert import feeds
        from greencert.load.copy_batch import ensure_raw_table

        conn.execute(sql.SQL("set role {}").format(own))
        for feed in feeds.registry().values():
            ensure_raw_table(conn, feed)
        conn.execute(sql.SQL("set role {}").format(T))
        conn.execute(HISTORY_DDL)
        conn.execute("reset role")
    host, port = _tcp_endpoint(admin_url)
    ep = Endpoint(host, port, database)
    return {r: ep.url(role_name(r), passwords[r]) for r in ROLES}


def _tcp_endpoint(admin_url: str) -> tuple[str, int]:
    """Where roles log in over TCP: the admin URL's host, or loopback for the socket-only admin."""
    parts = urlsplit(admin_url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port
    for kv in parts.query.split("&"):
        k, _, v = kv.partition("=")
        if k == "host" and not parts.hostname:
            host = "127.0.0.1"
        if k == "port":
            port = int(v)
    return host, port or 5432
