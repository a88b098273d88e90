"""Airflow as it is deployed, on this machine: the api-server, scheduler, DAG processor and
triggerer as separate processes (and Celery workers with a Redis broker when asked), the metadata
database in PostgreSQL (a database of its own on the warehouse's server), every component sharing
one Fernet key and one JWT secret, all on loopback.

`greencert serve` runs it in the foreground; the end-to-end test, the Celery test and the nightly
benchmark start the same `Stack` and drive it through the REST API (greencert.serve.rest), as a
person or a script would.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg
from psycopg import sql

from greencert import environment, settings, subprocesses
from greencert.serve.rest import AirflowREST

METADATA_ROLE = "greencert_airflow"  # owns Airflow's metadata database, nothing else
METADATA_DB = "airflow"
ADMIN_USER = "admin"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
HEALTHY = ("metadatabase", "scheduler", "triggerer", "dag_processor")
QUEUE = "default"  # the Celery queue every task goes to ([operators] default_queue) and workers consume
WORKER_HOSTNAME_ENV = "GREENCERT_WORKER_HOSTNAME"


def worker_hostname() -> str:
    """`[core] hostname_callable` of the Celery workers: the worker's own name (`worker1@<host>`),
    so a task instance's `hostname` says which worker ran it even when the workers share a machine
    (elsewhere, as on separate machines, the machine's name)."""
    return os.environ.get(WORKER_HOSTNAME_ENV) or socket.getfqdn()


def _secrets(path: Path) -> dict[str, str]:
    """The deployment's own secrets, generated once (mode 0600, git-ignored): the metadata role's
    password, the Fernet key that encrypts connections and variables, the JWT secret every
    component signs and checks task tokens with, the api-server's session key, the Redis broker's
    password and the UI admin's password."""
    from cryptography.fernet import Fernet

    old = dict(json.loads(path.read_text())) if path.exists() else {}
    values = {
        "metadata_password": secrets.token_urlsafe(24),
        "fernet_key": Fernet.generate_key().decode(),
        "jwt_secret": secrets.token_urlsafe(32),
        "api_secret_key": secrets.token_urlsafe(32),
        "redis_password": secrets.token_urlsafe(24),  # the Celery broker's requirepass
        "admin_password": secrets.token_urlsafe(18),  # the UI's login (SimpleAuthManager, user admin)
    } | old
    if values == old:
        return old
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    new = path.with_suffix(".new")  # a key added to an older file: the others kept as they were
    new.unlink(missing_ok=True)
    fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(values, fh)
    new.replace(path)
    return values


def metadata_url(admin_url: str, host: str, port: int, password: str, database: str = METADATA_DB) -> str:
    """Airflow's metadata database on the warehouse's server, owned by a role of its own."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (METADATA_ROLE,)).fetchone()
        verb = "alter" if exists else "create"
        conn.execute(
            sql.SQL(verb + " role {} login nosuperuser nocreaterole nocreatedb password {}").format(
                sql.Identifier(METADATA_ROLE), sql.Literal(password)
            )
        )
        if not conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone():
            conn.execute(
                sql.SQL("create database {} owner {} encoding 'UTF8' template template0").format(
                    sql.Identifier(database), sql.Identifier(METADATA_ROLE)
                )
            )
        conn.execute(sql.SQL("revoke all on database {} from public").format(sql.Identifier(database)))
    # psycopg 3 for both of Airflow's engines, sync and async (no asyncpg needed)
    return f"postgresql+psycopg://{METADATA_ROLE}:{password}@{host}:{port}/{database}"


@dataclass
class Stack:
    """The local Airflow deployment. `role_urls` are the warehouse roles the DAGs log in as."""

    role_urls: dict[str, str]
    admin_url: str
    port: int = settings.AIRFLOW_PORT
    executor: str = "LocalExecutor"
    workers: int = 2  # Celery workers (CeleryExecutor only)
    worker_concurrency: int = 2  # task slots per Celery worker
    # [scheduler] task_instance_heartbeat_timeout: a running task that has not heartbeat for this
    # long (its worker died: kill -9, a lost machine) is failed by the scheduler and retried. None:
    # Airflow's default, 300 s — production's value (a slow api-server or a long GC pause must not
    # fail healthy tasks); the worker-kill test sets a short one.
    heartbeat_timeout_s: int | None = None
    schedules: bool = True  # False: the scheduler runs only triggered runs (tests, demo, benchmarks)
    metadata_db: str = METADATA_DB
    extra_env: dict[str, str] = field(default_factory=dict)
    home: Path = settings.AIRFLOW_HOME

    def __post_init__(self) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []
        self.redis: Any = None
        self._secrets: dict[str, str] = {}
        self._env: dict[str, str] = {}
        self._worker_log_offset: dict[int, int] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs" / "services"

    def env(self) -> dict[str, str]:
        from urllib.parse import urlsplit

        s = self._secrets = _secrets(self.home.parent / "secrets" / "airflow.json")
        wh = urlsplit(self.role_urls["transformer"])
        env = environment.airflow_env(self.role_urls)
        metadata = metadata_url(
            self.admin_url, wh.hostname or "127.0.0.1", wh.port or 5432, s["metadata_password"], self.metadata_db
        )
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
                "AIRFLOW__COSMOS__CACHE_DIR": str(self.home / "cosmos_cache"),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata,
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__CORE__FERNET_KEY": s["fernet_key"],
                "AIRFLOW__API_AUTH__JWT_SECRET": s["jwt_secret"],
                "AIRFLOW__API__SECRET_KEY": s["api_secret_key"],
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                "AIRFLOW__CORE__DEFAULT_TIMEZONE": settings.TIMEZONE,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
                "AIRFLOW__CORE__PARALLELISM": "4",
                # a link of the night's sensor chain waits for a scheduler round: Airflow idles 1 s between them
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(self.schedules),
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",  # runs.trigger_and_wait unpauses for a run
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            }
        )
        if self.heartbeat_timeout_s is not None:
            env.update(
                {
                    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(self.heartbeat_timeout_s),
                    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
                }
            )
        if self.executor == "CeleryExecutor":
            from greencert.serve.redis import Redis

            env.update(
                {
                    # Debian's redis-server on loopback with a password (greencert.serve.redis)
                    "AIRFLOW__CELERY__BROKER_URL": Redis(self.redis_dir, settings.REDIS_PORT, s["redis_password"]).url,
                    # task states in the metadata database (Celery's SQLAlchemy backend, psycopg 3)
                    "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata,
                    "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
                    "AIRFLOW__OPERATORS__DEFAULT_QUEUE": QUEUE,
                }
            )
        env.update(self.extra_env)
        return env

    @property
    def redis_dir(self) -> Path:
        return self.home.parent / "redis"

    @property
    def password_file(self) -> Path:
        """The SimpleAuthManager's passwords file. The Stack writes it (mode 0600) before the
        api-server starts, so the manager finds the admin's password there and never generates one
        and prints it into its log."""
        return self.home / "simple_auth_manager_passwords.json.generated"

    def _write_password_file(self) -> None:
        wanted = {ADMIN_USER: self._secrets["admin_password"]}
        if self.password_file.exists() and json.loads(self.password_file.read_text() or "{}") == wanted:
            return
        self.password_file.parent.mkdir(parents=True, exist_ok=True)
        self.password_file.unlink(missing_ok=True)
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(wanted, fh)

    def password(self) -> str:
        return str(json.loads(self.password_file.read_text())[ADMIN_USER])

    def client(self) -> AirflowREST:
        return AirflowREST(self.base_url, ADMIN_USER, self.password())

    @property
    def pid_file(self) -> Path:
        return self.home / "serve.pids"

    def _stop_leftovers(self) -> None:
        """Process groups a killed earlier start of this home left running (its pid file)."""
        if not self.pid_file.exists():
            return
        for pid in json.loads(self.pid_file.read_text()).values():
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes().find(b"airflow") >= 0:
                    os.killpg(pid, signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass
        self.pid_file.unlink()

    def _write_pids(self) -> None:
        self.pid_file.write_text(json.dumps({n: p.pid for n, p in self.procs.items()}))

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.chmod(0o700)  # the services' logs: the service's user's only
        fd = os.open(self.log_dir / f"{name}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.chmod(fd, 0o600)
        log = open(fd, "ab")  # noqa: SIM115 — kept open for the process's life
        self._logs.append(log)
        self.procs[name] = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        self._write_pids()

    @staticmethod
    def worker_name(i: int) -> str:
        """Celery's node name of worker i, which is also its task instances' `hostname`."""
        return f"worker{i}@{socket.gethostname()}"

    def start_worker(
        self, i: int, env: dict[str, str] | None = None, timeout_s: float = 240, wait: bool = True
    ) -> None:
        """Worker i (`airflow celery worker`), consuming the default queue; returns once it is ready
        (with `wait`; else see `wait_worker`).
        The workers of this machine share the task logs' folder (the api-server reads them there),
        so none starts the log server that would serve them to other machines (it would bind
        0.0.0.0:8793, once per machine)."""
        name = self.worker_name(i)
        env = dict(env or self._env or self.env())
        env.update(
            {"AIRFLOW__CORE__HOSTNAME_CALLABLE": "greencert.serve.stack.worker_hostname", WORKER_HOSTNAME_ENV: name}
        )
        log = self.log_dir / f"worker-{i}.log"
        self._worker_log_offset[i] = log.stat().st_size if log.exists() else 0
        self._spawn(
            f"worker-{i}",
            [
                str(subprocesses.AIRFLOW_BIN),
                "celery",
                "worker",
                "--celery-hostname",
                name,
                "--queues",
                QUEUE,
                "--concurrency",
                str(self.worker_concurrency),
                "--skip-serve-logs",
            ],
            env,
        )
        if wait:
            self.wait_worker(i, timeout_s)

    def wait_worker(self, i: int, timeout_s: float = 240) -> None:
        """Until worker i consumes from the broker (it preloads dbt, Cosmos and GX first)."""
        name, log = self.worker_name(i), self.log_dir / f"worker-{i}.log"
        offset = self._worker_log_offset.get(i, 0)
        deadline = time.monotonic() + timeout_s
        while True:  # Celery says "<name> ready." once it consumes from the broker
            proc = self.procs[f"worker-{i}"]
            if proc.poll() is not None:
                raise RuntimeError(f"celery worker {name} exited {proc.returncode}:\n{self.tail(f'worker-{i}')}")
            with open(log, "rb") as fh:
                fh.seek(offset)
                if f"{name} ready.".encode() in fh.read():
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"celery worker {name} not ready after {timeout_s:.0f} s:\n{self.tail(f'worker-{i}')}"
                )
            time.sleep(0.5)

    def stop_worker(self, i: int, timeout_s: float = 60) -> None:
        """Warm shutdown of worker i (SIGTERM: it finishes its running tasks first), then SIGKILL."""
        proc = self.procs.pop(f"worker-{i}")
        self._write_pids()
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
        _reap(proc, timeout_s)

    def kill_worker(self, i: int) -> list[int]:
        """SIGKILL to worker i and every process under it (its pool, the task supervisors and the
        tasks they run), as when its machine dies: nothing of it says goodbye. The pids killed."""
        import psutil

        proc = self.procs.pop(f"worker-{i}")
        self._write_pids()
        try:
            tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        for p in tree:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        _signal_group(proc, signal.SIGKILL)
        proc.wait(10)
        psutil.wait_procs(tree[1:], timeout=10)
        return [p.pid for p in tree]

    def start(self, timeout_s: float = 240) -> Stack:
        self._stop_leftovers()
        env = self._env = self.env()
        self._write_password_file()
        subprocesses.airflow(["db", "migrate"], env, capture=True)
        try:
            if self.executor == "CeleryExecutor":
                from greencert.serve.redis import Redis

                self.redis = Redis(self.redis_dir, settings.REDIS_PORT, self._secrets["redis_password"]).start()
            for name in COMPONENTS:
                self._spawn(name, [str(subprocesses.AIRFLOW_BIN), name], env)
            if self.executor == "CeleryExecutor":
                for i in range(1, self.workers + 1):
                    self.start_worker(i, env, timeout_s)
            self.wait_healthy(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_healthy(self, timeout_s: float) -> None:
        """Every component reports healthy and every DAG of the folder is parsed, without errors."""
        from greencert import feeds

        expected = len(feeds.registry()) + 1
        deadline = time.monotonic() + timeout_s
        last: object = None
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"airflow {name} exited {proc.returncode}: "
                        f"see {self.log_dir / (name + '.log')}\n{self.tail(name)}"
                    )
            try:
                client = self.client()
                health = client.health()
                ok = all(health.get(c, {}).get("status") == "healthy" for c in HEALTHY)
                errors = client.import_errors() if ok else []
                if errors:
                    raise RuntimeError(f"DAG import errors: {errors}")
                dags = client.dag_ids() if ok else []
                if ok and len([d for d in dags if d.startswith("greencert_")]) >= expected:
                    client.close()
                    return
                last = health
                client.close()
            except (OSError, KeyError, ValueError, RuntimeError, httpx.HTTPError) as exc:
                if isinstance(exc, RuntimeError) and "import errors" in str(exc):
                    raise
                last = exc
            time.sleep(1)
        raise TimeoutError(f"Airflow at {self.base_url} not healthy after {timeout_s:.0f} s: {last}")

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def alive(self) -> dict[str, bool]:
        alive = {name: proc.poll() is None for name, proc in self.procs.items()}
        if self.redis is not None:
            alive["redis"] = self.redis.alive()
        return alive

    def stop(self, timeout_s: float = 30) -> None:
        """SIGTERM to every component's process group (its task processes too), then SIGKILL."""
        for proc in self.procs.values():
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for proc in self.procs.values():
            _reap(proc, max(0.1, deadline - time.monotonic()))
        self.procs.clear()
        self.pid_file.unlink(missing_ok=True)
        for log in self._logs:
            log.close()
        self._logs.clear()
        if self.redis is not None:
            self.redis.stop()
            self.redis = None

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """A signal to the process's group (the component and the task processes it started), if any is left."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _reap(proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Wait up to timeout_s for the process to end, then SIGKILL whatever is left of its group."""
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        pass
    _signal_group(proc, signal.SIGKILL)
    proc.wait()
