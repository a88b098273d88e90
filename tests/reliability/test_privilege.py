"""Least privilege on the real warehouse, with the roles and grants `greencert setup` gives it
(plugins/greencert/warehouse/roles.py; README "Schemas and roles"):

- the loader writes raw and dq and can touch nothing of the transformer's: no create, alter, drop,
  insert, update, delete or even select in marts, bi, history, staging, snapshots or a build_*
  schema, and cannot create a build schema;
- the transformer reads raw and dq and writes only dq.validation_runs there; it cannot read role
  passwords or any other credential (the warehouse holds none: role passwords are in var/secrets or
  the server's .env, Airflow's connections in Airflow's own metadata database), create roles or
  databases, take another role, or read or run anything on the server's files;
- greencert_bi_reader reads bi only: tests/integration/test_dbt_build.py
  (`test_bi_reader_reads_bi_and_nothing_else`) proves it on a built warehouse; here only that it is
  a plain login like the others;
- no DAG connects as a superuser: the connections the DAGs read (`environment.airflow_env` locally,
  `docker-compose.yml` on a server) log in as greencert_loader / greencert_transformer, checked by
  logging in through the DAGs' own `conninfo` and asking the server who we are.

A statement counts as refused only when PostgreSQL says "permission denied" (SQLSTATE 42501,
InsufficientPrivilege); any other error fails the test, so every probe aims at an object that exists.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import yaml

from greencert import connections, environment
from greencert.publish.swap import prepare_build
from greencert.warehouse import roles

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "greencert_privilege"
BUILD = "build_20990101"
# a table in each of the transformer's schemas, as a night leaves them
TRANSFORMER_TABLES = {
    "marts": "marts.probe",
    "bi": "bi.probe",
    "history": "history.target_progress_history",
    "staging": "staging.batches_taken",
    "snapshots": "snapshots.probe",
    BUILD: f"{BUILD}.probe",
}
PREDEFINED_ROLES = (
    "pg_read_all_data",
    "pg_write_all_data",
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_execute_server_program",
    "pg_read_all_settings",
    "pg_read_all_stats",
    "pg_monitor",
    "pg_signal_backend",
    "pg_create_subscription",
    "pg_maintain",
    "pg_use_reserved_connections",
)


@pytest.fixture(scope="module")
def urls(fresh_database) -> dict[str, str]:
    urls = fresh_database(DATABASE)
    prepare_build(urls["transformer"], BUILD)
    with psycopg.connect(urls["transformer"]) as conn:
        for table in ("marts.probe", "bi.probe", "snapshots.probe", f"{BUILD}.probe"):
            conn.execute(f"create table {table} as select 1 as x")
    return urls


def refused(url: str, statement: str) -> bool:
    """True if PostgreSQL refuses the statement for want of privilege; False if it runs (rolled back,
    except the two that cannot run in a transaction)."""
    with psycopg.connect(url, autocommit=statement.startswith(("create database", "alter system"))) as conn:
        try:
            conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege:
            return True
        finally:
            conn.rollback()
    return False


def allowed(url: str, statements: list[str]) -> list[str]:
    return [s for s in statements if not refused(url, s)]


def test_the_loader_cannot_touch_the_transformers_schemas(urls) -> None:
    probes = []
    for schema, table in TRANSFORMER_TABLES.items():
        probes += [
            f"create table {schema}.loader_probe (x int)",
            f"create view {schema}.loader_probe as select 1 as x",
            f"alter table {table} add column loader_probe int",
            f"drop table {table}",
            f"insert into {table} default values",
            f"delete from {table}",
            f"truncate {table}",
            f"select * from {table}",
            f"alter schema {schema} rename to loader_probe",
            f"drop schema {schema} cascade",
        ]
    probes += ["create schema build_20990102", "create schema marts_probe"]
    assert allowed(urls["loader"], probes) == []


def test_the_loader_writes_raw_and_dq(urls) -> None:
    """The other side of the coin: what the loader is for works (so the refusals above mean something)."""
    work = [
        "insert into raw.landing_manifest (batch_id, feed, source_file, landed_path, sha256, size_bytes, logical_date)"
        " values ('probe', 'certificates', 'f.csv', '/x', 'probe', 1, '2025-06-30')",
        "insert into dq.quarantine (feed, batch_id, source_file, source_row, rule, detail)"
        " values ('certificates', 'probe', 'f.csv', 2, 'required', 'probe')",
        "insert into dq.explained_drops (target_id, as_of_date, explanation) values ('T06', '2025-06-30', 'probe')",
        # a new feed's raw table: made by raw.ensure_table as greencert_owner (the loader owns no table)
        "select raw.ensure_table('loader_probe', array['x'])",
        "select util.clean_text(' x ')",
    ]
    assert allowed(urls["loader"], work) == work


def test_the_transformer_reads_raw_and_dq_and_writes_only_its_gate_results_there(urls) -> None:
    t = urls["transformer"]
    work = [
        "select * from raw.certificates",
        "select * from raw.landing_manifest",
        "select * from dq.quarantine",
        "select * from dq.explained_drops",
        "select util.parse_date('2025-06-30')",
        "insert into dq.validation_runs (run_id, suite, target, expectation, success)"
        " values ('probe', 'probe', 'probe', 'probe', true)",
    ]  # the mart gate's record
    assert allowed(t, work) == work
    writes = []
    for table in (
        "raw.certificates",
        "raw.landing_manifest",
        "raw.source_watermarks",
        "dq.quarantine",
        "dq.validation_runs",
        "dq.explained_drops",
    ):
        writes += [
            f"delete from {table}",
            f"truncate {table}",
            f"drop table {table}",
            f"alter table {table} add column probe int",
        ]
    writes += [
        "insert into raw.certificates (batch_id, source_file, source_row) values ('probe', 'f.csv', 2)",
        "update raw.certificates set status = '有效'",
        "update raw.landing_manifest set status = 'accepted'",
        "insert into raw.landing_manifest (batch_id, feed, source_file, landed_path, sha256, size_bytes, logical_date)"
        " values ('probe', 'certificates', 'f.csv', '/x', 'probe', 1, '2025-06-30')",
        # a quarantine entry would hide a row from staging; an explained drop would wave through the
        # transformer's own mart gate: both are the loader's (and the operator's) to write
        "insert into dq.quarantine (feed, batch_id, source_file, source_row, rule, detail)"
        " values ('certificates', 'probe', 'f.csv', 2, 'required', 'probe')",
        "insert into dq.explained_drops (target_id, as_of_date, explanation) values ('T06', '2025-06-30', 'probe')",
        "update dq.validation_runs set success = true",
        "create table raw.probe (x int)",
        "create table dq.probe (x int)",
        "create table public.probe (x int)",
        "create function util.probe() returns int language sql as 'select 1'",
        "create or replace function util.clean_text(value text) returns text language sql as 'select value'",
    ]
    assert allowed(t, writes) == []


def test_the_transformer_cannot_read_credentials_or_raise_itself(urls) -> None:
    t = urls["transformer"]
    assert (
        allowed(
            t,
            [
                "select rolpassword from pg_authid",
                "select * from pg_shadow",
                "select * from pg_user_mapping",
                "select subconninfo from pg_subscription",
                "create role probe login password 'x'",
                "alter role greencert_loader password 'x'",
                "alter role greencert_transformer superuser",
                "alter role greencert_transformer createrole",
                "grant greencert_loader to greencert_transformer",
                "set role greencert_loader",
                "set session authorization greencert_loader",
                "create database probe",
                "select pg_read_file('/etc/passwd')",
                "select pg_ls_dir('.')",
                "copy raw.certificates from program 'id'",
                "copy (select 1) to '/tmp/greencert_probe'",
                "select lo_import('/etc/passwd')",
                "alter system set log_statement = 'all'",
            ],
        )
        == []
    )
    with psycopg.connect(t) as conn:
        # the catalogs anyone may read show passwords masked
        assert {r[0] for r in conn.execute("select rolpassword from pg_roles")} <= {"********", None}
        assert {r[0] for r in conn.execute("select passwd from pg_user")} <= {"********", None}


def test_nothing_the_transformer_can_read_holds_a_credential(urls) -> None:
    """Every table and view the transformer may select, outside the system catalogs: no column is
    named like a password, secret, token or key. (Airflow's connections are not in the warehouse:
    Airflow's metadata database is SQLite under var/airflow locally, the airflow-db service on a server.)"""
    with psycopg.connect(urls["transformer"]) as conn:
        readable = conn.execute(
            """select c.table_schema, c.table_name, c.column_name from information_schema.columns c
               where c.table_schema not in ('pg_catalog', 'information_schema')
                 and has_table_privilege(format('%I.%I', c.table_schema, c.table_name), 'select')
               order by 1, 2, 3"""
        ).fetchall()
    assert {(s, t) for s, t, _ in readable} >= {("raw", "certificates"), ("dq", "quarantine")}
    secret = re.compile(r"pass(word|wd)?|secret|token|credential|api_?key|private|conninfo", re.I)
    assert [r for r in readable if secret.search(r[2])] == []


def test_no_role_is_a_member_of_a_powerful_predefined_role(urls) -> None:
    for role in roles.ROLES:
        with psycopg.connect(urls[role]) as conn:
            member = conn.execute(
                """select rolname::text from pg_roles where rolname = any(%s)
                                     and pg_has_role(current_user, oid, 'member')""",
                (list(PREDEFINED_ROLES),),
            ).fetchall()
        # the server's reserved connection slots are the loader's and the transformer's (BI cannot
        # take the last ones: tests/reliability/test_bi_cannot_block.py), nothing more
        expected = [("pg_use_reserved_connections",)] if role in ("loader", "transformer") else []
        assert member == expected, role


def test_other_sessions_statements_are_hidden(urls) -> None:
    """An admin's statement (it might set a password) is not visible in pg_stat_activity to the roles."""
    from greencert import warehouse

    with psycopg.connect(roles._swap_db(warehouse.admin_url(), DATABASE), autocommit=True) as admin:
        admin.execute("select 'greencert-admin-probe'")
        for role in roles.ROLES:
            with psycopg.connect(urls[role]) as conn:
                seen = conn.execute(
                    "select count(*) from pg_stat_activity where query like %s", ("%greencert-admin-probe%",)
                ).fetchone()[0]
            assert seen == 0, role


def _attributes(url: str) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute(
            """select current_user::text, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls
               from pg_roles where rolname = current_user"""
        ).fetchone()


@pytest.mark.parametrize("role", roles.ROLES)
def test_every_role_is_a_plain_login(urls, role) -> None:
    assert _attributes(urls[role]) == (roles.role_name(role), False, False, False, False, False)


WAREHOUSE_CONN = re.compile(r"conninfo\((\w+)\)|\"conn\.\" \+ (\w+)")


def _warehouse_connections_in_code() -> set[str]:
    """The Airflow connection ids the DAG code reads warehouse logins from: conninfo(X) in tasks and
    callbacks, "conn." + X in the Cosmos profile's templates."""
    names = set()
    for path in [*(ROOT / "plugins" / "greencert").rglob("*.py"), *(ROOT / "dags").glob("*.py")]:
        for m in WAREHOUSE_CONN.finditer(path.read_text(encoding="utf-8")):
            name = m.group(1) or m.group(2)
            if name != "conn_id":  # connections.conninfo's own definition
                names.add(getattr(connections, name))
    return names


def test_no_dag_connects_as_a_superuser(urls) -> None:
    used = _warehouse_connections_in_code()
    assert used == {connections.LOADER_CONN, connections.TRANSFORMER_CONN}
    env = environment.airflow_env(urls)
    postgres = {k for k, v in env.items() if k.startswith("AIRFLOW_CONN_") and json.loads(v)["conn_type"] == "postgres"}
    assert postgres == {f"AIRFLOW_CONN_{c.upper()}" for c in used}
    # read back through Airflow the way the tasks read them (connections.conninfo), in a process of its own
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "plugins"), env.get("PYTHONPATH", "")])
    script = (
        "import json; from greencert.connections import conninfo; "
        f"print(json.dumps({{c: conninfo(c) for c in {sorted(used)!r}}}))"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert {c: _attributes(url) for c, url in got.items()} == {
        connections.LOADER_CONN: ("greencert_loader", False, False, False, False, False),
        connections.TRANSFORMER_CONN: ("greencert_transformer", False, False, False, False, False),
    }


def test_the_servers_dags_log_in_as_the_same_roles() -> None:
    """docker-compose.yml: every Airflow service's postgres connection logs in as a greencert role
    (the ones checked above); only greencert-init, which runs `greencert setup` and no DAG, has the
    admin's URL; the broker (redis) and the two PostgreSQL servers hold no warehouse login."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        if service.get("command", [""])[0] != "airflow":
            assert name in ("airflow-db", "warehouse", "redis", "greencert-init"), name
            if name != "greencert-init":
                assert not any(k.startswith(("AIRFLOW_CONN_", "GREENCERT_", "WAREHOUSE_URL")) for k in env), name
            continue
        assert "WAREHOUSE_URL" not in env, name
        logins = {
            k: json.loads(re.sub(r"\$\{[^}]*\}", "x", v))["login"]
            for k, v in env.items()
            if k.startswith("AIRFLOW_CONN_") and '"postgres"' in v
        }
        assert logins == {
            "AIRFLOW_CONN_GREENCERT_LOADER": "greencert_loader",
            "AIRFLOW_CONN_GREENCERT_TRANSFORMER": "greencert_transformer",
        }, name
    assert compose["services"]["greencert-init"]["command"][-1].endswith("greencert setup --warehouse-only")
