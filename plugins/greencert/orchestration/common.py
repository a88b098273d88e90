"""What every greencert DAG shares: owner, retries, failure callback, as-of date, connections."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from greencert import settings

log = logging.getLogger(__name__)

OWNER = "greencert-data"
LOADER_CONN = "greencert_loader"
TRANSFORMER_CONN = "greencert_transformer"
SOURCE_API_CONN = "greencert_source_api"  # the sources' HTTP API (locally: the stand-in server)
# Every task of the greencert DAGs runs once more after a failure: a Celery worker killed mid-task
# (kill -9, a lost machine) leaves its task without heartbeats, which the scheduler fails after
# `[scheduler] task_instance_heartbeat_timeout` and retries. Each task is safe to run twice: landing
# is by content hash, a batch loads none-or-all, dbt rebuilds its model in the night's own build
# schema, the publish is one idempotent transaction. (The audit's refusal is final:
# AirflowFailException, no retry.)
RETRIES = 1
# the XCom of a night's dbt sensor that failed because what its node reads did not succeed (not its
# own failure): those tasks, which have been notified on; its failure callback does not notify again
UPSTREAM_FAILED_KEY = "greencert_upstream_failed"


def on_failure(context: dict[str, Any]) -> None:
    """Say what failed and where its log is: in the log, by e-mail and on the webhook (greencert.notify)."""
    ti = context.get("ti") or context.get("task_instance")
    exc = context.get("exception")
    upstream = _failed_upstream(ti)
    if upstream:  # the night's sensor of a node not built because these failed: they were notified on
        log.error("greencert FAILED: dag=%s task=%s run=%s: not built, because %s did not succeed",
                  getattr(ti, "dag_id", "?"), getattr(ti, "task_id", "?"), getattr(ti, "run_id", "?"),
                  ", ".join(upstream))
        return
    log.error(
        "greencert FAILED: dag=%s task=%s run=%s: %s",
        getattr(ti, "dag_id", "?"), getattr(ti, "task_id", "?"), getattr(ti, "run_id", "?"), exc,
    )
    try:
        from greencert.notify.callbacks import task_failed

        task_failed(context)  # never raises; a channel that fails is logged
    except Exception:
        log.exception("greencert: failure notification not sent")


def _failed_upstream(ti: Any) -> list[str]:
    try:
        value = ti.xcom_pull(task_ids=ti.task_id, key=UPSTREAM_FAILED_KEY)
    except Exception:  # no XCom to read (a test's context): an ordinary failure
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def default_args(retries: int = 0) -> dict[str, Any]:
    return {
        "owner": OWNER,
        "retries": retries,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "on_failure_callback": on_failure,
    }


def as_of_iso(dag_run: Any, logical_date: Any) -> str:
    """The snapshot date of a run: conf `as_of_date`, else the logical date in Asia/Shanghai."""
    conf = getattr(dag_run, "conf", None) or {}
    if conf.get("as_of_date"):
        return date.fromisoformat(str(conf["as_of_date"])).isoformat()
    return logical_date.in_timezone(settings.TIMEZONE).date().isoformat()


def as_of(context: dict[str, Any]) -> date:
    return date.fromisoformat(as_of_iso(context.get("dag_run"), context["logical_date"]))


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
