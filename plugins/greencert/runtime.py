"""The local runtime: environment for Airflow and dbt pointing at this checkout's var/ folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

from greencert import settings

AIRFLOW_BIN = Path(sys.executable).with_name("airflow")
DBT_BIN = Path(sys.executable).with_name("dbt")


def airflow_connection(url: str) -> str:
    """An Airflow connection (JSON form of AIRFLOW_CONN_*) from a postgresql:// URL."""
    p = urlsplit(url)
    return json.dumps({
        "conn_type": "postgres",
        "host": p.hostname,
        "port": p.port,
        "login": unquote(p.username or ""),
        "password": unquote(p.password or ""),
        "schema": p.path.lstrip("/"),
    })


def airflow_env(role_urls: dict[str, str]) -> dict[str, str]:
    home = settings.AIRFLOW_HOME
    home.mkdir(parents=True, exist_ok=True)
    (home / "logs").mkdir(mode=0o700, exist_ok=True)
    (home / "logs").chmod(0o700)  # task logs print file names, URLs and source values
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.DAGS_DIR),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(settings.ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # task logs print file names, URLs and source values: the service's user's only
        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS": os.environ.get(
            "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS", "0o700"),
        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS": os.environ.get(
            "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS", "0o600"),
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos_cache"),
        # the WATCHER producer backs its node statuses up to a Variable once, when it fails, not
        # after every node (Cosmos's default rewrites the whole backup per node: O(nodes²) writes)
        "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False",
        "GX_ANALYTICS_ENABLED": "False",
        "DO_NOT_TRACK": "1",
        "GREENCERT_ROOT": str(settings.ROOT),
        "GREENCERT_VAR": str(settings.VAR),
        "GREENCERT_REPORTS": str(settings.REPORTS),  # where this process says reports are: the tasks write there
        "PYTHONWARNINGS": "ignore",
    })
    # The DAGs log in as these roles, never as a superuser.
    env["AIRFLOW_CONN_GREENCERT_LOADER"] = airflow_connection(role_urls["loader"])
    env["AIRFLOW_CONN_GREENCERT_TRANSFORMER"] = airflow_connection(role_urls["transformer"])
    # the http feeds' source API: locally the stand-in server (greencert source-api)
    env["AIRFLOW_CONN_GREENCERT_SOURCE_API"] = json.dumps(
        {"conn_type": "http", "host": "127.0.0.1", "port": settings.API_PORT, "schema": "http"})
    return env


def dbt_env(transformer_url: str, build_schema: str = "build_dev") -> dict[str, str]:
    p = urlsplit(transformer_url)
    env = dict(os.environ)
    env.update({
        "DBT_PROFILES_DIR": str(settings.DBT_PROJECT_DIR),
        "GREENCERT_DBT_HOST": p.hostname or "127.0.0.1",
        "GREENCERT_DBT_PORT": str(p.port or 5432),
        "GREENCERT_DBT_USER": unquote(p.username or ""),
        "GREENCERT_DBT_PASSWORD": unquote(p.password or ""),
        "GREENCERT_DBT_DATABASE": p.path.lstrip("/"),
        "GREENCERT_BUILD_SCHEMA": build_schema,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    })
    return env


def dbt(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run dbt in the project folder; raise with its output on failure."""
    proc = subprocess.run(
        [str(DBT_BIN), *args], cwd=settings.DBT_PROJECT_DIR, env=env or dict(os.environ, DBT_PROFILES_DIR=str(
            settings.DBT_PROJECT_DIR)), text=True, capture_output=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dbt {' '.join(args)} failed:\n{proc.stdout[-5000:]}\n{proc.stderr[-2000:]}")
    return proc


def dbt_parse() -> Path:
    """Compile the manifest Cosmos renders the nightly DAG from (no database needed)."""
    dbt(["parse", "--quiet"])
    return settings.DBT_PROJECT_DIR / "target" / "manifest.json"


def _failed(what: str, returncode: int, text: str) -> RuntimeError:
    """An error naming the command: the lines that say what failed, then the tail (a DAG's log is long)."""
    why = [line for line in text.splitlines()
           if any(word in line for word in ("[error", "Error", "FAILED", "DagRun failed", "refused"))][:40]
    return RuntimeError(f"{what} exited {returncode}\n" + "\n".join(why) + "\n...\n" + text[-3000:])


def airflow(args: list[str], env: dict[str, str], check: bool = True, capture: bool = False,
            ) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(AIRFLOW_BIN), *args], env=env, text=True, capture_output=capture)
    if check and proc.returncode != 0:
        raise _failed(f"airflow {' '.join(args)}", proc.returncode, (proc.stdout or "") + (proc.stderr or ""))
    return proc
