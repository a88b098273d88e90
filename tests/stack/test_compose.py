"""docker-compose.yml started for real: images built offline (make stack-images), a throwaway .env
of random secrets, the whole stack up (warehouse, Airflow's metadata DB, Redis, greencert-init, the
api-server, scheduler, dag-processor, triggerer, two Celery workers) plus the test-only stand-in
source API (compose.test.yml). One day of sample data goes into the shared volume; every ingest DAG
and then the nightly are unpaused and triggered through the REST API as the admin of the
SimpleAuthManager; the tasks must have run on the Celery workers, both of them, and BI must read
the published night as greencert_bi_reader through the published warehouse port. Every image runs
as a non-root user, every port is on loopback, every wait is bounded; `down -v` at the end, failed
or not.

Needs a Docker engine (`make test-compose` installs and starts one as root); marked `stack` and `compose`, so plain
`make test` leaves it out (pytest.ini)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import pytest

pytestmark = [pytest.mark.stack, pytest.mark.compose]

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "greencert-stack-test"
AIRFLOW_PORT = int(os.environ.get("GREENCERT_STACK_AIRFLOW_PORT", "18080"))
WAREHOUSE_PORT = int(os.environ.get("GREENCERT_STACK_WAREHOUSE_PORT", "15432"))
DAY = date(2025, 6, 30)
CITY = "320500"
UP_TIMEOUT_S = 900  # images cached: minutes on 2 busy cores (every Airflow process imports Airflow)
RUN_TIMEOUT_S = 1200
SECRETS = (
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_ADMIN_PASSWORD",
    "AIRFLOW_DB_PASSWORD",
    "REDIS_PASSWORD",
    "WAREHOUSE_ADMIN_PASSWORD",
    "GREENCERT_LOADER_PASSWORD",
    "GREENCERT_TRANSFORMER_PASSWORD",
    "GREENCERT_BI_READER_PASSWORD",
)


def _compose_bin() -> list[str]:
    exe = os.environ.get("GREENCERT_COMPOSE") or str(ROOT / ".venv" / "bin" / "docker-compose")
    return [exe]


_reporter = None  # pytest's terminal: the figures show without -s


def _log(msg: str) -> None:
    if _reporter is not None:
        _reporter.write_line(f"[compose] {msg}")
    else:
        print(f"[compose] {msg}", flush=True)


@pytest.fixture(scope="module", autouse=True)
def _terminal(request) -> Iterator[None]:
    global _reporter
    _reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    yield
    _reporter = None


@dataclass
class Stack:
    env_file: Path
    env: dict[str, str]
    up_s: float

    def compose(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [
            *_compose_bin(),
            "-p",
            PROJECT,
            "--project-directory",
            str(ROOT),
            "--env-file",
            str(self.env_file),
            "-f",
            str(ROOT / "docker-compose.yml"),
            "-f",
            str(ROOT / "tests" / "stack" / "compose.test.yml"),
            *args,
        ]
        proc = subprocess.run(cmd, cwd=ROOT, text=True, capture_output=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        return proc

    def containers(self) -> list[dict]:
        ids = self.compose("ps", "-a", "-q").stdout.split()
        if not ids:
            return []
        out = subprocess.run(["docker", "inspect", *ids], text=True, capture_output=True, check=True, timeout=60)
        return json.loads(out.stdout)


def _service(container: dict) -> str:
    return container["Config"]["Labels"]["com.docker.compose.service"]


def _env_file(folder: Path) -> tuple[Path, dict[str, str]]:
    """A .env as the README has one write, every secret random (hex: they go into URLs unescaped)."""
    from cryptography.fernet import Fernet

    env = {name: secrets.token_hex(24) for name in SECRETS}
    env |= {
        "AIRFLOW_FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW_ADMIN_USER": "admin",
        "AIRFLOW_BASE_URL": f"http://127.0.0.1:{AIRFLOW_PORT}",
        "AIRFLOW_PORT": str(AIRFLOW_PORT),
        "WAREHOUSE_PORT": str(WAREHOUSE_PORT),
        "GREENCERT_SOURCE_API_URL": "http://source-api:8000",  # compose.test.yml's stand-in
    }
    path = folder / ".env"
    path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    path.chmod(0o600)
    return path, env


def _wait_healthy(stack: Stack, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        containers = stack.containers()
        waiting, broken = [], []
        for c in containers:
            name, state = _service(c), c["State"]
            if name == "greencert-init":
                if state["Status"] == "exited" and state["ExitCode"] != 0:
                    broken.append(f"{name} exited {state['ExitCode']}")
                elif state["Status"] != "exited":
                    waiting.append(name)
            elif state["Status"] != "running":
                broken.append(f"{c['Name']} {state['Status']}")
            elif state.get("Health", {}).get("Status") != "healthy":
                waiting.append(f"{c['Name']}:{state.get('Health', {}).get('Status')}")
        if broken:
            raise AssertionError(f"containers down: {broken}")
        if containers and not waiting:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"not healthy after {timeout_s:.0f} s: {waiting}")
        time.sleep(3)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    if not shutil.which("docker") or subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.fail("no Docker engine: run `make test-stack` (installs and starts one as root)")
    started = time.monotonic()
    subprocess.run(["make", "--no-print-directory", "stack-images"], cwd=ROOT, check=True, timeout=1800)
    _log(f"images ready in {time.monotonic() - started:.0f} s")
    env_file, env = _env_file(tmp_path_factory.mktemp("stack"))
    stack = Stack(env_file, env, 0.0)
    stack.compose("down", "-v", "--remove-orphans", check=False)  # what a killed earlier run left
    try:
        started = time.monotonic()
        stack.compose("up", "-d", timeout=UP_TIMEOUT_S)  # waits for greencert-init and the databases
        _wait_healthy(stack, UP_TIMEOUT_S - (time.monotonic() - started))
        stack.up_s = time.monotonic() - started
        _log(f"stack up and healthy in {stack.up_s:.0f} s")
        yield stack
    except BaseException:
        _log(stack.compose("logs", "--no-color", "--tail", "60", check=False).stdout[-20000:])
        raise
    finally:
        stack.compose("down", "-v", "--remove-orphans", timeout=300, check=False)


def test_every_service_healthy_on_loopback_and_not_root(stack: Stack) -> None:
    containers = stack.containers()
    services = [_service(c) for c in containers]
    assert services.count("airflow-worker") == 2
    assert {
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "redis",
        "airflow-db",
        "warehouse",
        "greencert-init",
    } <= set(services)
    init = next(c for c in containers if _service(c) == "greencert-init")
    assert init["State"]["ExitCode"] == 0
    for c in containers:
        # the image's user, and who really runs PID 1 (running containers)
        assert c["Config"]["User"] not in ("", "root", "0"), c["Name"]
        if c["State"]["Status"] == "running":
            uid = subprocess.run(
                ["docker", "exec", c["Id"], "id", "-u"], text=True, capture_output=True, check=True, timeout=60
            ).stdout.strip()
            assert uid != "0", c["Name"]
        for bindings in (c["HostConfig"].get("PortBindings") or {}).values():
            assert all(b["HostIp"] == "127.0.0.1" for b in bindings), (c["Name"], bindings)


def test_a_night_through_the_rest_api(stack: Stack) -> None:
    from greencert import feeds
    from greencert.orchestration import ingest, nightly
    from greencert.serve import runs
    from greencert.serve.rest import AirflowREST

    started = time.monotonic()
    # one day of sample data into the shared volume: the drop folders and the stand-in API's store
    stack.compose(
        "exec", "-T", "--index", "1", "airflow-worker", "greencert", "generate", "--as-of", DAY.isoformat(), timeout=600
    )
    # a long read timeout: on a small shared machine a poll of the api-server took over 30 s
    client = AirflowREST(
        f"http://127.0.0.1:{AIRFLOW_PORT}",
        stack.env["AIRFLOW_ADMIN_USER"],
        stack.env["AIRFLOW_ADMIN_PASSWORD"],
        timeout_s=180,
    )
    wanted = {ingest.dag_id(feed) for feed in feeds.registry().values()} | {nightly.DAG_ID}
    deadline = time.monotonic() + 300
    while not wanted <= set(client.dag_ids()):  # the dag-processor has parsed every DAG file
        assert not client.import_errors(), client.import_errors()
        assert time.monotonic() < deadline, f"DAGs not parsed after 300 s: {wanted - set(client.dag_ids())}"
        time.sleep(3)
    done = runs.run_day(
        client, DAY, timeout_s=RUN_TIMEOUT_S, on_done=lambda f: _log(f"{f.dag_id}: {f.state} at {f.seconds:.0f} s")
    )
    _log(f"generate + every ingest + the nightly in {time.monotonic() - started:.0f} s")
    assert runs.failed(done) == []

    # the tasks ran on the Celery workers, both of them
    workers = {c["Config"]["Hostname"] for c in stack.containers() if _service(c) == "airflow-worker"}
    hosts: dict[str, int] = {}
    on_no_worker = []
    for f in done:
        for ti in client.task_instances(f.dag_id, f.run_id):
            if ti["state"] == "success" and ti["hostname"]:
                hosts[ti["hostname"]] = hosts.get(ti["hostname"], 0) + 1
            elif ti["state"] == "success":
                on_no_worker.append(ti["task_id"])
    _log(f"task instances per worker: {hosts}")
    assert set(hosts) == workers, (hosts, workers)
    # not on a worker: Cosmos's gate after the night's dbt build (an EmptyOperator the scheduler marks
    # done) and the night's sensors, which end in the triggerer; the build itself ran on a worker
    assert nightly.BUILD_DONE_TASK in on_no_worker and nightly.BUILD_TASK not in on_no_worker, on_no_worker
    assert all(t.startswith(f"{nightly.DBT_GROUP}.") for t in on_no_worker), on_no_worker
    assert len(on_no_worker) > 50, on_no_worker

    # BI reads the night through the published port, as greencert_bi_reader
    from greencert.warehouse import roles

    url = (
        f"postgresql://{roles.role_name('bi_reader')}:{stack.env['GREENCERT_BI_READER_PASSWORD']}"
        f"@127.0.0.1:{WAREHOUSE_PORT}/greencert"
    )
    with psycopg.connect(url, connect_timeout=10) as conn:
        city = dict(
            conn.execute(
                "select target_id, actual_value from bi.target_progress where as_of_date = %s and region_code = %s",
                (DAY, CITY),
            ).fetchall()
        )
    targets = _target_ids()
    assert targets <= set(city), sorted(targets - set(city))
    assert any(v for v in city.values())


def _target_ids() -> set[str]:
    import csv

    with (ROOT / "dbt_project" / "seeds" / "policy_targets.csv").open(encoding="utf-8") as fh:
        return {row["target_id"] for row in csv.DictReader(fh)}
