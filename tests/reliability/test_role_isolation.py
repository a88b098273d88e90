"""Roles cannot reach each other's code paths (issue 15; docs/reliability.md), on the real warehouse
with the real roles logging in with their real passwords:

- every role's sessions resolve names in `pg_catalog, pg_temp` only (ALTER ROLE … SET search_path,
  and dbt's profile), every util / raw function is bound at creation (SQL-standard body) or pins its
  own search_path, and the one SECURITY DEFINER function pins it too;
- each trick of each role against each other role: a schema named after the other role ("$user"),
  a function in public, in pg_temp, in util, raw or dq shadowing one the other's code calls with an
  implicit cast (`to_char(date, text)`, the row rules'); a policy, trigger, rule, column default,
  generated column, view or change of owner on a table the other role reads. Each is either refused
  with PostgreSQL's "permission denied" / "must be owner" (SQLSTATE 42501), or created and then
  never resolved by the other role's code: the shadows that can be created raise when run, and the
  real path (the loader loads and gates a batch, the transformer builds, audits and publishes, BI
  reads) runs through them and publishes `marts`, `bi` and the history byte for byte as before, with
  `dq.explained_drops` and the landing manifest untouched;
- what the transformer owns and BI reads (bi views, marts, history) runs its code as
  greencert_bi_reader, which holds no privilege the transformer lacks: nothing to gain.
"""

from __future__ import annotations

import psycopg
import pytest

from greencert import warehouse
from greencert.load.copy_batch import load_batch
from greencert.quality.raw_gate import run_raw_gate
from greencert.warehouse import roles

from ..integration.helpers import admin_url_for
from .faults import CERTS, D, audit_and_publish, build, checksums, copy_night, t06

DB = "greencert_role_isolation"
OTHER = {
    "loader": ("transformer", "bi_reader"),
    "transformer": ("loader", "bi_reader"),
    "bi_reader": ("loader", "transformer"),
}
# what each role's code reads of another's: the tables it could attach code to
READ_BY_OTHERS = {
    "loader": ("raw.certificates", "raw.landing_manifest", "dq.quarantine", "dq.explained_drops"),
    "transformer": (
        "raw.certificates",
        "dq.validation_runs",
        "marts.fct_target_progress",
        "history.target_progress_history",
    ),
    "bi_reader": ("history.target_progress_history", "marts.fct_target_progress", "raw.certificates"),
}
# the bi views BI reads, the transformer's: the other two roles cannot redefine them
VIEW_PROBES = (
    "create or replace view bi.target_progress as select 1 as x",
    "alter view bi.target_progress owner to current_user",
    "alter view bi.target_progress rename to probe",
    "create rule probe as on insert to bi.target_progress do instead nothing",
)
SHADOW = "returns text language plpgsql as $$ begin raise exception 'hijacked: % ran a shadow', current_user; end $$"


@pytest.fixture(scope="module")
def urls(night):
    return copy_night(DB)


def attempt(url: str, statement: str) -> str:
    """'denied' (SQLSTATE 42501, with PostgreSQL's message checked) or 'created' (committed)."""
    with psycopg.connect(url) as conn:
        conn.execute("set transaction read write")  # BI's sessions are read-only by default: ask for privilege
        try:
            conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege as exc:
            conn.rollback()
            assert "permission denied" in str(exc) or "must be owner" in str(exc), str(exc)
            return "denied"
        conn.commit()
    return "created"


def _manifest_and_drops(database: str) -> tuple[list, list]:
    with psycopg.connect(admin_url_for(database)) as conn:
        manifest = conn.execute(
            "select batch_id, feed, source_file, sha256, logical_date, status, reason, rows "
            "from raw.landing_manifest order by 1"
        ).fetchall()
        drops = conn.execute("select * from dq.explained_drops order by 1, 2").fetchall()
    return manifest, drops


@pytest.mark.parametrize("role", roles.ROLES)
def test_every_role_logs_in_with_the_pinned_search_path(urls, role) -> None:
    with psycopg.connect(urls[role]) as conn:
        assert conn.execute("show search_path").fetchone()[0] == roles.SEARCH_PATH
        # nothing but the catalog is searched: no "$user" schema, no public
        assert conn.execute("select current_schemas(false)").fetchone()[0] == ["pg_catalog"]


def test_every_project_function_binds_its_names_or_pins_its_search_path(urls) -> None:
    with psycopg.connect(admin_url_for(DB)) as conn:
        functions = conn.execute(
            """select p.oid::regprocedure::text, p.prosqlbody is not null, p.prosecdef,
                      coalesce(array_to_string(p.proconfig, ';'), '')
               from pg_proc p join pg_namespace n on n.oid = p.pronamespace
               where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
               order by 1"""
        ).fetchall()
    assert {f for f, *_ in functions} >= {
        "util.parse_date(text)",
        "util.clean_text(text)",
        "raw.ensure_table(text,text[])",
    }
    unpinned = [
        f
        for f, bound, _, config in functions
        if not bound and f"search_path={roles.SEARCH_PATH.replace(' ', '')}" not in config.replace(" ", "")
    ]
    assert unpinned == []
    assert [f for f, _, definer, _ in functions if definer] == ["raw.ensure_table(text,text[])"]


def test_the_dbt_profile_pins_the_search_path_too() -> None:
    import yaml

    from greencert import settings

    profile = yaml.safe_load((settings.DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))
    assert profile["greencert"]["outputs"]["transformer"]["search_path"] == roles.SEARCH_PATH.replace(" ", "")


def test_no_role_can_plant_a_shadow_that_another_role_resolves(urls) -> None:
    """Every place a role might put a `to_char(date, text)` (the row rules call to_char on a date: an
    exact match anywhere on the path would beat pg_catalog's timestamptz one) or a table named like
    one the others read. What is created raises when run; the other roles' code never runs it."""
    outcomes = {}
    for attacker in roles.ROLES:
        probes = []
        for victim in OTHER[attacker]:  # the victim's "$user" schema, and what a shadow would put there
            schema = roles.role_name(victim)
            outcomes[attacker, f"create schema {schema}"] = attempt(urls[attacker], f"create schema {schema}")
            if outcomes[attacker, f"create schema {schema}"] == "created":
                probes += [
                    f"create function {schema}.to_char(date, text) {SHADOW}",
                    f"create table {schema}.landing_manifest (batch_id text)",
                ]
        probes += [
            f"create function public.to_char(date, text) {SHADOW}",
            "create table public.landing_manifest (x int)",
            f"create function util.to_char(date, text) {SHADOW}",
            "create or replace function util.parse_date(value text) returns date language sql as 'select null::date'",
            f"create function raw.to_char(date, text) {SHADOW}",
            f"create function dq.to_char(date, text) {SHADOW}",
            "create view raw.landing_manifest_v as select 1 as x",
            "create temp table landing_manifest (x int)",
            f"create function pg_temp.to_char(date, text) {SHADOW}",
        ]
        for probe in probes:
            outcomes[attacker, probe] = attempt(urls[attacker], probe)
    created = sorted(k for k, v in outcomes.items() if v == "created")
    # only the transformer may create schemas (its build_* schemas) and temp objects (its own session's)
    assert {a for a, _ in created} <= {"transformer"}
    assert ("transformer", f"create function {roles.role_name('loader')}.to_char(date, text) {SHADOW}") in created
    assert not [
        p
        for a, p in created
        if p.startswith(
            (
                "create function public",
                "create function util",
                "create or replace",
                "create function raw",
                "create function dq",
                "create view raw",
                "create table public",
            )
        )
    ]
    # the loader's and BI's code: to_char(date, text) is pg_catalog's, the tables are the real ones
    for victim in ("loader", "bi_reader"):
        with psycopg.connect(urls[victim]) as conn:
            assert conn.execute("select to_char(date '2025-06-30', 'YYYY')").fetchone()[0] == "2025"
    with psycopg.connect(urls["loader"]) as conn:
        assert conn.execute("select count(*) > 0 from raw.landing_manifest").fetchone()[0]
        assert conn.execute("select util.parse_date('2025-06-30')").fetchone()[0] == D


def _attachments(table: str) -> list[str]:
    """Code a writer might attach to `table` so that its readers run it."""
    name = table.split(".")[1]
    col = "target_id" if "progress" in table or table.startswith("dq.explained") else "batch_id"
    return [
        f"alter table {table} enable row level security",
        f"create policy probe on {table} using (pg_catalog.pg_sleep(0) is not null)",
        f"create trigger probe before insert on {table} for each row execute function "
        "pg_catalog.suppress_redundant_updates_trigger()",
        f"create rule probe as on insert to {table} do also notify probe",
        f"alter table {table} alter column {col} set default pg_catalog.current_user::text",
        f"alter table {table} add column probe text generated always as (pg_catalog.upper({col})) stored",
        f"alter table {table} owner to current_user",
        f"alter table {table} rename to {name}_probe",
        f"comment on table {table} is 'probe'",
    ]


@pytest.mark.parametrize("attacker", roles.ROLES)
def test_no_role_can_attach_code_to_a_table_another_role_reads(urls, attacker) -> None:
    """Tables the attacker does not own are refused whole. The transformer owns what BI reads: that
    code runs as greencert_bi_reader, a role with no privilege of its own (checked below)."""
    for table in READ_BY_OTHERS[attacker]:
        if attacker == "transformer" and table.startswith(("marts.", "history.")):
            continue
        assert {p: attempt(urls[attacker], p) for p in _attachments(table)} == dict.fromkeys(
            _attachments(table), "denied"
        ), (attacker, table)
    if attacker != "transformer":
        assert {p: attempt(urls[attacker], p) for p in VIEW_PROBES} == dict.fromkeys(VIEW_PROBES, "denied")


def test_raw_and_dq_belong_to_the_owner_and_the_loader_writes_rows_only(urls) -> None:
    with psycopg.connect(admin_url_for(DB)) as conn:
        owners = set(
            conn.execute(
                """select pg_get_userbyid(c.relowner)::text from pg_class c
               join pg_namespace n on n.oid = c.relnamespace
               where n.nspname in ('raw', 'dq') union select pg_get_userbyid(nspowner)::text from pg_namespace
               where nspname in ('raw', 'dq')"""
            ).fetchall()
        )
        assert owners == {(roles.OWNER,)}
        login = conn.execute("select rolcanlogin from pg_roles where rolname = %s", (roles.OWNER,)).fetchone()
        assert login == (False,)
        privileges = conn.execute(
            """select distinct privilege_type from information_schema.table_privileges
               where grantee = 'greencert_loader' and table_schema in ('raw', 'dq') order by 1"""
        ).fetchall()
    assert [p for (p,) in privileges] == ["DELETE", "INSERT", "SELECT", "UPDATE"]


def test_an_older_warehouses_loader_owned_tables_are_handed_to_the_owner(urls) -> None:
    with psycopg.connect(admin_url_for(DB), autocommit=True) as conn:
        conn.execute("alter table raw.certificates owner to greencert_loader")
    roles.bootstrap(warehouse.admin_url(), DB)
    with psycopg.connect(admin_url_for(DB)) as conn:
        assert (
            conn.execute(
                "select pg_get_userbyid(relowner)::text from pg_class where oid = 'raw.certificates'::regclass"
            ).fetchone()[0]
            == roles.OWNER
        )


def test_code_the_transformer_puts_before_bi_runs_as_a_role_with_nothing_to_gain(urls) -> None:
    with psycopg.connect(urls["transformer"]) as conn:
        conn.execute("create function staging.probe_whoami() returns text language sql return current_user")
        conn.execute("create view bi.probe_whoami as select staging.probe_whoami() as who")
        conn.execute("grant select on bi.probe_whoami to greencert_bi_reader")
    try:
        with psycopg.connect(urls["bi_reader"]) as conn:
            assert conn.execute("select who from bi.probe_whoami").fetchone()[0] == "greencert_bi_reader"
            # nothing to gain as bi_reader: no write, no create, no temp, no membership, reads bi only
            assert (
                conn.execute(
                    """select count(*) from information_schema.table_privileges
                   where grantee = 'greencert_bi_reader' and privilege_type <> 'SELECT'"""
                ).fetchone()[0]
                == 0
            )
            assert (
                conn.execute(
                    """select count(*) from information_schema.table_privileges
                   where grantee in ('greencert_bi_reader', 'PUBLIC') and privilege_type = 'SELECT'
                     and table_schema not in ('bi', 'pg_catalog', 'information_schema')"""
                ).fetchone()[0]
                == 0
            )
            assert (
                conn.execute(
                    """select bool_or(has_schema_privilege(oid, 'create')) or has_database_privilege(current_database(),
                       'create') or has_database_privilege(current_database(), 'temporary')
                   from pg_namespace"""
                ).fetchone()[0]
                is False
            )
            assert (
                conn.execute(
                    "select count(*) from pg_auth_members where member = 'greencert_bi_reader'::regrole"
                ).fetchone()[0]
                == 0
            )
    finally:
        with psycopg.connect(urls["transformer"]) as conn:
            conn.execute("drop view bi.probe_whoami")
            conn.execute("drop function staging.probe_whoami()")


def test_the_real_path_runs_through_every_planted_trick_and_publishes_byte_for_byte(urls) -> None:
    """Last (the shadows of the test above are still there): the loader reloads and gates the night's
    batch (its row rules call to_char on a date), the transformer builds, audits and publishes, BI
    reads: nothing runs a shadow, and every published row is as before."""
    before, manifest_before = checksums(DB), _manifest_and_drops(DB)
    with psycopg.connect(urls["transformer"]) as conn:  # the shadows are still in place
        assert (
            conn.execute(
                "select count(*) from pg_proc where proname = 'to_char' and pronamespace = "
                "'greencert_loader'::regnamespace"
            ).fetchone()[0]
            == 1
        )
    with psycopg.connect(urls["loader"]) as conn:
        (batch_id,) = conn.execute("select batch_id from raw.landing_manifest where feed = 'certificates'").fetchone()
    from greencert.extract.landing import Batch

    with psycopg.connect(admin_url_for(DB)) as conn:
        row = conn.execute(
            "select batch_id, feed, source_file, landed_path, sha256, logical_date "
            "from raw.landing_manifest where batch_id = %s",
            (batch_id,),
        ).fetchone()
    batch = _batch(Batch, row)
    load_batch(CERTS, urls["loader"], batch)
    assert run_raw_gate(CERTS, urls["loader"], batch_id, run_id="isolation").success
    audit_and_publish(urls, build(urls))
    assert t06(urls)  # BI reads the night
    assert checksums(DB) == before
    assert _manifest_and_drops(DB) == manifest_before


def _batch(cls, row):
    """A landed batch as land_new_files gave it, rebuilt from its manifest row."""
    import dataclasses
    from pathlib import Path

    values = dict(zip(("batch_id", "feed", "source_file", "landed_path", "sha256", "logical_date"), row, strict=True))
    values["landed_path"] = Path(values["landed_path"])
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})
