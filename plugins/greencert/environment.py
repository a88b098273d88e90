"""The environments Airflow's and dbt's processes get: this checkout's Airflow home, DAG and plugins
folders and var/, the connections the DAGs log in with, dbt's profile variables."""

from __future__ import annotations

import json
import os
from urllib.parse import unquote, urlsplit

from greencert import settings


def airflow_connection(url: str) -> str:
    """An Airflow connection (JSON form of AIRFLOW_CONN_*) from a postgresql:// URL."""
    p = urlsplit(url)
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": p.hostname,
            "port": p.port,
            "login": unquote(p.username or ""),
            "password": unquote(p.password or ""),
            "schema": p.path.lstrip("/"),
        }
    )


def airflow_env(role_urls: dict[str, str]) -> dict[str, str]:
    home = settings.AIRFLOW_HOME
    home.mkdir(parents=True, exist_ok=True)
    (home / "logs").mkdir(mode=0o700, exist_ok=True)
    (home / "logs").chmod(0o700)  # task logs print file names, URLs and source values
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(settings.DAGS_DIR),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(settings.ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            # task logs print file names, URLs and source values: the service's user's only
            "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS": os.environ.get(
                "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS", "0o700"
            ),
            "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS": os.environ.get(
                "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS", "0o600"
            ),
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
        }
    )
    # The DAGs log in as these roles, never as a superuser.
    env["AIRFLOW_CONN_GREENCERT_LOADER"] = airflow_connection(role_urls["loader"])
    env["AIRFLOW_CONN_GREENCERT_TRANSFORMER"] = airflow_connection(role_urls["transformer"])
    # the http feeds' source API: locally the stand-in server (greencert source-api)
    env["AIRFLOW_CONN_GREENCERT_SOURCE_API"] = json.dumps(
        {"conn_type": "http", "host": "127.0.0.1", "port": settings.API_PORT, "schema": "http"}
    )
    return env


def dbt_env(transformer_url: str, build_schema: str = "build_dev") -> dict[str, str]:
    p = urlsplit(transformer_url)
    env = dict(os.environ)
    env.update(
        {
            "DBT_PROFILES_DIR": str(settings.DBT_PROJECT_DIR),
            "GREENCERT_DBT_HOST": p.hostname or "127.0.0.1",
            "GREENCERT_DBT_PORT": str(p.port or 5432),
            "GREENCERT_DBT_USER": unquote(p.username or ""),
            "GREENCERT_DBT_PASSWORD": unquote(p.password or ""),
            "GREENCERT_DBT_DATABASE": p.path.lstrip("/"),
            "GREENCERT_BUILD_SCHEMA": build_schema,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    return env
