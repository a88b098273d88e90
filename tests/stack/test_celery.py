"""Scale-out on Celery: the CeleryExecutor with a Redis broker and two workers under the real
scheduler, one generated day triggered through the REST API, and a worker killed with `kill -9`
in the middle of the night's `dbt build`.

One scenario, run once by the module fixture (every wait bounded, the stack stopped even when a
step fails); each test asserts one promise of it:
1. every feed's ingest on two workers, into a fresh database A: task instances ran on both;
2. A copied to B after the ingests (CREATE DATABASE … TEMPLATE): both nights read the same batches;
3. the nightly on A: a few seconds into its `dbt build` (Cosmos's WATCHER producer), that task's
   worker is killed — SIGKILL to the worker and every process under it, as when its machine dies —
   and another started in its place; the scheduler fails the task instance once its heartbeats stop
   (task_instance_heartbeat_timeout, 30 s here, 300 s in production) and retries it (try 2, skipped:
   no second build), the sensors of the nodes not yet reported build their own, and the night
   publishes;
4. the components still up after it;
5. the reference night on B with one worker and nothing killed (worker 2 stopped, worker 1
   restarted with B's connections: the same scheduler, one worker) — and marts and
   target_progress_history of A and B equal row for row (the history without build_id and
   published_at).
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import time
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from greencert import environment, settings, subprocesses, warehouse
from greencert.orchestration import nightly
from greencert.serve import runs
from greencert.serve.redis import _ping
from greencert.serve.stack import Stack
from greencert.warehouse import roles
from standins import write_all

from ..integration.helpers import AS_OF, admin_url_for

pytestmark = pytest.mark.stack  # (tests/stack/conftest.py marks every test here too)

DB, REF_DB = "greencert_celery", "greencert_celery_ref"
METADATA_DB = "airflow_celery"
HEARTBEAT_TIMEOUT_S = 30
BOUND_S = 900  # any one wait: a day's ingests or a night on this 2-core machine take 2–6 min


def published(db: str) -> dict[str, str]:
    """Row count and digest (row order independent) of every table in marts, and of the history
    without what differs by build and time (build_id, published_at)."""
    out = {}
    with psycopg.connect(admin_url_for(db)) as conn:
        tables = [
            t
            for (t,) in conn.execute(
                "select schemaname || '.' || tablename from pg_tables where schemaname = 'marts' order by 1"
            )
        ]
        queries = {t: f"select md5(t::text) from {t} t" for t in tables}
        cols = [
            c
            for (c,) in conn.execute(
                """select column_name from information_schema.columns where table_schema = 'history'
               and table_name = 'target_progress_history' and column_name not in ('build_id', 'published_at')
               order by ordinal_position"""
            )
        ]
        queries["history.target_progress_history"] = (
            f"select md5(row({', '.join(cols)})::text) from history.target_progress_history"
        )
        for table, query in queries.items():
            rows = sorted(r[0] for r in conn.execute(query).fetchall())
            out[table] = f"{len(rows)}:{hashlib.sha256(''.join(rows).encode()).hexdigest()}"
    return out


def copy_database(source: str, target: str) -> dict[str, str]:
    """`target` as a copy of `source` (PostgreSQL's template copy; no session may be open on the
    source: the workers are idle between the ingests and the night), with production's grants."""
    with psycopg.connect(warehouse.admin_url(), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{target}" with (force)')
        deadline = time.monotonic() + 30
        while conn.execute("select count(*) from pg_stat_activity where datname = %s", (source,)).fetchone()[0]:
            assert time.monotonic() < deadline, f"sessions still open on {source}"
            time.sleep(0.5)
        conn.execute(f'create database "{target}" template "{source}"')
    # a database's own privileges (connect, create) are not copied: production's grants, again
    return roles.bootstrap(warehouse.admin_url(), target)


PRODUCER = nightly.BUILD_TASK  # the night's one `dbt build`


def worker_of(hostname: str) -> int:
    found = re.fullmatch(r"worker(\d+)@.*", hostname or "")
    assert found, f"task instance hostname {hostname!r} is no worker's name"
    return int(found.group(1))


def trigger(client: Any, dag_id: str, tag: str) -> str:
    """A manual run for the snapshot date AS_OF (conf), its logical date now, as the UI's Trigger sets it."""
    client.unpause(dag_id)
    return client.trigger(
        dag_id,
        datetime.now(UTC),
        {"as_of_date": AS_OF.isoformat()},
        run_id=f"{tag}__{AS_OF}__{datetime.now(UTC):%Y%m%dT%H%M%S%f}",
    )


def kill_a_worker_mid_dbt_task(stack: Stack, client: Any, run_id: str) -> dict[str, Any]:
    """Wait for the night's `dbt build` (the WATCHER producer) to be running on a worker, a few
    seconds into it, kill that worker (and its tree), start it again; return what was killed and how
    long the scheduler took to notice the task had died."""
    deadline = time.monotonic() + BOUND_S
    while True:
        tis = client.task_instances(nightly.DAG_ID, run_id)
        running = [
            t
            for t in tis
            if t["task_id"] == PRODUCER and t["state"] == "running" and t.get("hostname") and t.get("pid")
        ]
        if running and (datetime.now(UTC) - datetime.fromisoformat(running[0]["start_date"])).total_seconds() > 3:
            [victim] = running
            break
        assert time.monotonic() < deadline, f"the dbt build did not run within {BOUND_S} s"
        state = client.run(nightly.DAG_ID, run_id)["state"]
        assert state in ("queued", "running"), f"the night ended ({state}) before its dbt build ran"
        time.sleep(0.3)
    worker = worker_of(victim["hostname"])
    killed_at = time.monotonic()
    pids = stack.kill_worker(worker)
    assert victim["pid"] in pids, f"task pid {victim['pid']} not under worker {worker} ({pids})"
    stack.start_worker(worker, wait=False)  # a worker in its place (the dead one's name: a restarted machine)
    noticed_s = None
    while noticed_s is None:
        [ti] = [t for t in client.task_instances(nightly.DAG_ID, run_id) if t["task_id"] == victim["task_id"]]
        if ti["state"] != "running" or ti["try_number"] > victim["try_number"]:
            noticed_s = time.monotonic() - killed_at
        else:
            assert time.monotonic() - killed_at < BOUND_S, f"{victim['task_id']} still running after the kill"
            time.sleep(0.5)
    stack.wait_worker(worker)
    return {
        "task_id": victim["task_id"],
        "worker": worker,
        "try_number": victim["try_number"],
        "pids": pids,
        "state_after": ti["state"],
        "noticed_s": round(noticed_s, 1),
    }


@pytest.fixture(scope="module")
def scenario(fresh_database, source_api) -> dict[str, Any]:
    started = time.monotonic()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        timings[name] = round(time.monotonic() - started, 1)

    urls = fresh_database(DB)
    for f in [*settings.DROPBOX.glob("*/*"), *settings.API_STORE.glob("*/*")]:
        f.unlink()
    write_all(AS_OF)
    subprocesses.dbt_parse()
    with psycopg.connect(warehouse.admin_url(), autocommit=True) as conn:  # Airflow's metadata: fresh too
        conn.execute(f'drop database if exists "{METADATA_DB}" with (force)')
    stack = Stack(
        urls,
        warehouse.admin_url(),
        executor="CeleryExecutor",
        workers=2,
        schedules=False,
        metadata_db=METADATA_DB,
        home=settings.VAR / "airflow_celery",
        heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S,
    )
    out: dict[str, Any] = {}
    try:
        stack.start()
        lap("stack started")
        client = stack.client()
        out["broker_url"] = stack.env()["AIRFLOW__CELERY__BROKER_URL"]
        ingests = runs.trigger_and_wait(
            client, [d for d in client.dag_ids() if d.startswith("greencert_ingest_")], AS_OF, BOUND_S
        )
        lap("ingests")
        out["ingests"] = {f.dag_id: f.state for f in ingests}
        out["ingest_hostnames"] = sorted(
            {ti["hostname"] for f in ingests for ti in client.task_instances(f.dag_id, f.run_id)}
        )
        ref_urls = copy_database(DB, REF_DB)
        lap("copied")

        run_id = trigger(client, nightly.DAG_ID, "celery_kill")
        out["kill"] = kill_a_worker_mid_dbt_task(stack, client, run_id)
        lap("killed and noticed")
        out["night"] = client.wait(nightly.DAG_ID, run_id, BOUND_S)
        lap("night with the kill")
        out["night_tis"] = client.task_instances(nightly.DAG_ID, run_id)
        out["published"] = published(DB)
        out["alive"] = stack.alive()
        out["health"] = client.health()

        # the reference: the same night with one worker, nothing killed, on the copy B
        stack.stop_worker(2)
        stack.stop_worker(1)
        ref_env = dict(stack.env())
        ref_env.update({k: v for k, v in environment.airflow_env(ref_urls).items() if k.startswith("AIRFLOW_CONN_")})
        stack.start_worker(1, ref_env)
        ref_run = trigger(client, nightly.DAG_ID, "celery_one_worker")
        out["ref_night"] = client.wait(nightly.DAG_ID, ref_run, BOUND_S)
        lap("reference night")
        ref_tis = client.task_instances(nightly.DAG_ID, ref_run)
        out["ref_hostnames"] = sorted({ti["hostname"] for ti in ref_tis if ti["hostname"]})
        out["ref_not_on_a_worker"] = sorted(ti["task_id"] for ti in ref_tis if not ti["hostname"])
        out["ref_published"] = published(REF_DB)
        client.close()
    finally:
        stack.stop()
        lap("stopped")
        out["timings"] = timings
        print("\ncelery scenario:", json.dumps({k: out.get(k) for k in ("timings", "kill")}, default=str))
    return out


def test_ingests_ran_on_both_workers(scenario) -> None:
    assert set(scenario["ingests"].values()) == {"success"}, scenario["ingests"]
    assert {worker_of(h) for h in scenario["ingest_hostnames"]} == {1, 2}, scenario["ingest_hostnames"]


def test_a_worker_killed_mid_build_is_noticed_and_the_night_publishes(scenario) -> None:
    """The worker running the night's `dbt build` dies: the scheduler notices after the heartbeat
    timeout and retries the task, which (Cosmos WATCHER) does not build a second time alongside the
    sensors: it is skipped, and each sensor whose node had not reported builds its own node, in
    the graph's order. Every sensor succeeds and the night publishes."""
    kill = scenario["kill"]
    assert scenario["night"] == "success"
    [ti] = [t for t in scenario["night_tis"] if t["task_id"] == kill["task_id"]]
    assert kill["task_id"] == PRODUCER and kill["try_number"] == 1, kill
    assert ti["try_number"] == 2 and ti["state"] == "skipped", (kill, ti)
    # noticed by the heartbeat timeout (not by the task finishing before the kill)
    assert HEARTBEAT_TIMEOUT_S - 6 <= kill["noticed_s"] < HEARTBEAT_TIMEOUT_S + 60, kill
    assert {t["state"] for t in scenario["night_tis"] if t["task_id"] != PRODUCER} == {"success"}


def test_the_night_publishes_what_one_worker_publishes(scenario) -> None:
    assert scenario["ref_night"] == "success"
    assert {worker_of(h) for h in scenario["ref_hostnames"]} == {1}, scenario["ref_hostnames"]
    # not on a worker: Cosmos's gate after the build (an EmptyOperator the scheduler marks done) and
    # the sensors, which end in the triggerer; the build and every task around it ran on the worker
    not_on_a_worker = set(scenario["ref_not_on_a_worker"])
    assert nightly.BUILD_DONE_TASK in not_on_a_worker and PRODUCER not in not_on_a_worker
    assert all(t.startswith(f"{nightly.DBT_GROUP}.") for t in not_on_a_worker), not_on_a_worker
    assert len(not_on_a_worker) > 50
    assert scenario["published"]["history.target_progress_history"].split(":")[0] != "0"
    assert scenario["published"] == scenario["ref_published"]


def test_scheduler_triggerer_and_broker_alive_at_the_end(scenario) -> None:
    alive = scenario["alive"]
    assert alive["scheduler"] and alive["triggerer"] and alive["dag-processor"] and alive["api-server"], alive
    assert alive["redis"] and alive["worker-1"] and alive["worker-2"], alive
    for component in ("scheduler", "triggerer", "dag_processor", "metadatabase"):
        assert scenario["health"][component]["status"] == "healthy", scenario["health"]


def test_the_broker_is_on_loopback_behind_a_password(scenario) -> None:
    url = scenario["broker_url"]
    assert re.fullmatch(rf"redis://:[^@]{{16,}}@127\.0\.0\.1:{settings.REDIS_PORT}/0", url), "no password"
    from greencert.serve.redis import Redis

    password = url.split(":")[2].split("@")[0]
    with Redis(settings.VAR / "redis_probe", settings.REDIS_PORT, password) as redis:
        assert _ping(redis.port, password) and not _ping(redis.port, None) and not _ping(redis.port, "wrong")
        names = {socket.gethostname(), socket.getfqdn()}
        others = {a[4][0] for n in names for a in socket.getaddrinfo(n, None, socket.AF_INET)} - {"127.0.0.1"}
        for address in others:
            with socket.socket() as s:
                s.settimeout(2)
                assert s.connect_ex((address, redis.port)) != 0, f"redis reachable on {address}"
