"""The Airflow connections greencert's tasks and callbacks read, by id, and the URLs made from them.

They come from AIRFLOW_CONN_* (environment.airflow_env, docker-compose.yml), a secrets backend or the UI.
Airflow is imported inside the functions: DAG files import this module, and parsing must stay fast.
"""

from __future__ import annotations

from urllib.parse import quote

LOADER_CONN = "greencert_loader"
TRANSFORMER_CONN = "greencert_transformer"
SOURCE_API_CONN = "greencert_source_api"  # the sources' HTTP API (locally: the stand-in server)


def conninfo(conn_id: str) -> str:
    """A libpq URL from an Airflow connection (AIRFLOW_CONN_* env, secrets backend or the UI)."""
    from airflow.sdk import Connection

    c = Connection.get(conn_id)
    user = quote(c.login or "", safe="")
    password = quote(c.password or "", safe="")
    return f"postgresql://{user}:{password}@{c.host}:{c.port or 5432}/{c.schema}"


def http_base(conn_id: str) -> str:
    """A base URL from an Airflow HTTP connection (host with or without its scheme, port)."""
    from airflow.sdk import Connection

    c = Connection.get(conn_id)
    host = c.host if "://" in (c.host or "") else f"{c.schema or 'http'}://{c.host}"
    return f"{host}:{c.port}" if c.port else host
