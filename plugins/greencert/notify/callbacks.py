"""The Airflow callbacks: task failure (every DAG), nightly success, nightly deadline missed.

Airflow and the warehouse driver are imported inside the functions: DAG files import this module,
and parsing must stay fast. Every callback catches everything: a notification that cannot be sent
is logged, and the run's own outcome stands. Every callback returns one line of text (what it sent
where, or why it sent nothing): the triggerer stores the deadline callback's return value in the
`callback.output` Text column, and the others keep the same contract.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import date, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from greencert import settings, snapshot_date
from greencert.connections import TRANSFORMER_CONN, conninfo
from greencert.notify import UPSTREAM_FAILED_KEY, message
from greencert.notify.channels import deliver, outcome_text

log = logging.getLogger(__name__)

REPORT_TASK = "report"  # the nightly's report task returns {"html": path, "xlsx": path}
AUDIT_TASK = "audit"  # returns {"checks": n, "warnings": [...]}


def task_failed(context: dict[str, Any]) -> str:
    """on_failure_callback of every greencert task: one log line saying what failed and where it was
    notified (the traceback is Airflow's, above it), a message with the exception and the log link.

    A night's sensor whose node was not built because what it reads failed says so, and sends nothing:
    those tasks have been notified on."""
    ti = context.get("ti") or context.get("task_instance")
    where = f"dag={getattr(ti, 'dag_id', '?')} task={getattr(ti, 'task_id', '?')} run={getattr(ti, 'run_id', '?')}"
    upstream = _failed_upstream(ti)
    if upstream:
        log.error(
            "greencert FAILED: %s: not built, because %s did not succeed (not notified again)",
            where,
            ", ".join(upstream),
        )
        return "not sent: " + ", ".join(upstream) + " failed first and were notified on"
    try:
        exc = context.get("exception")
        msg = message.task_failure(
            dag_id=getattr(ti, "dag_id", None) or str(getattr(context.get("dag"), "dag_id", "?")),
            task_id=getattr(ti, "task_id", "?"),
            run_id=getattr(ti, "run_id", None) or str(context.get("run_id", "?")),
            error=f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else (str(exc) if exc else None),
            log_url=_log_url(ti),
            try_number=getattr(ti, "try_number", None),
        )
        outcome = outcome_text(deliver(msg))
    except Exception:
        log.exception("greencert FAILED: %s; could not notify it", where)
        return _not_sent()
    log.error("greencert FAILED: %s: %s (notified: %s)", where, exc, outcome)
    return outcome


def _failed_upstream(ti: Any) -> list[str]:
    """The tasks a night's sensor names in its UPSTREAM_FAILED_KEY XCom (dbt_watch); none otherwise."""
    try:
        value = ti.xcom_pull(task_ids=ti.task_id, key=UPSTREAM_FAILED_KEY)
    except Exception:  # no XCom to read (a test's context): an ordinary failure
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def _not_sent() -> str:
    exc = sys.exc_info()[1]
    return f"not sent: {type(exc).__name__}: {exc}"[:200]


def _log_url(ti: Any) -> str | None:
    try:
        return ti.log_url  # Airflow 3: {api.base_url}/dags/<dag>/runs/<run>/tasks/<task>?try_number=n
    except Exception:
        return None


def _xcom(ti: Any, task_id: str) -> Any:
    """A task's return value in this run, through the Task SDK (the DAG processor, which runs DAG
    callbacks, serves XCom reads)."""
    return None if ti is None else ti.xcom_pull(task_ids=task_id)


def nightly_succeeded(context: dict[str, Any]) -> str:
    """on_success_callback of the nightly: snapshot date, targets per status on the city row, report."""
    try:
        ti = context.get("ti") or context.get("task_instance")
        dag_id = str(getattr(context.get("dag"), "dag_id", None) or getattr(ti, "dag_id", "?"))
        run_id = str(context.get("run_id") or getattr(ti, "run_id", "?"))
        problems: list[str] = []
        snapshot = counts = None
        try:
            snapshot = snapshot_date.of_context(context).isoformat()
        except Exception as exc:
            problems.append(f"snapshot date unknown ({type(exc).__name__}: {exc})")
        if snapshot:
            try:
                from greencert.report.progress_table import rows

                counts = message.status_counts(rows(conninfo(TRANSFORMER_CONN), date.fromisoformat(snapshot)))
            except Exception as exc:
                problems.append(f"target progress unreadable ({type(exc).__name__}: {exc})")
        report = warnings = None
        try:
            report = _xcom(ti, REPORT_TASK)
        except Exception as exc:
            problems.append(f"report path unreadable ({type(exc).__name__}: {exc})")
        try:
            warnings = (_xcom(ti, AUDIT_TASK) or {}).get("warnings")
        except Exception as exc:
            log.info("mart gate warnings unreadable: %s", exc)
        msg = message.nightly_success(
            dag_id, run_id, snapshot, counts, report if isinstance(report, dict) else None, warnings or (), problems
        )
        return outcome_text(deliver(msg))
    except Exception:
        log.exception("could not notify the nightly's success")
        return _not_sent()


def _when(value: Any) -> datetime | None:
    """A timestamp of the run's API form (ISO text, "Z" or an offset) or a datetime; None when absent."""
    if value is None or value == "":
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return when if when.tzinfo is not None else when.replace(tzinfo=ZoneInfo("UTC"))


def _local(value: Any) -> str:
    when = _when(value)
    assert when is not None  # called with a deadline only
    return when.astimezone(ZoneInfo(settings.TIMEZONE)).strftime(f"%Y-%m-%d %H:%M {settings.TIMEZONE}")


def created_after_deadline(dag_run: dict[str, Any], deadline: Any) -> bool:
    """Was the run asked for only after its deadline had passed (so it could never have met it)?

    A run exists from the earliest of `run_after` (a scheduled run: its schedule time, 23:30; a
    manual one: when it was triggered) and `queued_at`. A manual rerun of a past date (logical date
    2025-06-30, triggered today) has a deadline of 2025-07-01 07:00, long gone when it is created;
    a scheduled night that is still running (or failed, or queued late) at 07:00 was created before it."""
    deadline_at = _when(deadline)
    created = [t for t in (_when(dag_run.get("run_after")), _when(dag_run.get("queued_at"))) if t is not None]
    return deadline_at is not None and bool(created) and min(created) >= deadline_at


def _run_url(dag_id: str, run_id: str) -> str:
    try:
        from airflow.sdk.configuration import conf

        base = conf.get("api", "base_url", fallback="http://localhost:8080/")
    except Exception:
        base = "http://localhost:8080/"
    return f"{base.rstrip('/')}/dags/{dag_id}/runs/{quote(run_id)}"


def _published(snapshot: str) -> bool:
    from greencert.report.progress_table import rows

    return bool(rows(conninfo(TRANSFORMER_CONN), date.fromisoformat(snapshot)))


def deadline_missed(context: dict[str, Any]) -> str:
    """The nightly run was not done by its deadline: alert, unless the snapshot got published anyway.

    `context` is what Airflow gives a DeadlineAlert callback: {"dag_run": <the run, as the REST API
    shows it (DAGRunResponse: run_type, logical_date, run_after, queued_at, start_date, state, conf…)>,
    "deadline": {"id", "deadline_time"}}. A run created after its deadline (a backfill, a manual
    rerun of a past date) could not have met it: Airflow fires at once, and no alert is sent.
    """
    try:
        dag_run = context.get("dag_run") or {}
        dag_id, run_id = str(dag_run.get("dag_id", "?")), str(dag_run.get("dag_run_id", "?"))
        deadline = (context.get("deadline") or {}).get("deadline_time")
        if dag_run.get("run_type") == "backfill":
            log.info("deadline of backfill run %s.%s passed: no alert (a backfill starts after it)", dag_id, run_id)
            return "no alert: a backfill run starts after its deadline"
        if created_after_deadline(dag_run, deadline):
            log.info(
                "deadline of %s run %s.%s (%s) passed before the run was created: no alert",
                dag_run.get("run_type"),
                dag_id,
                run_id,
                _local(deadline),
            )
            return f"no alert: the run was created after its deadline {_local(deadline)}"
        snapshot = snapshot_date.of_run(dag_run.get("conf"), dag_run.get("logical_date"))
        notes: list[str] = []
        if snapshot:
            try:
                if _published(snapshot):
                    log.info("deadline of %s.%s passed but %s is published: no alert", dag_id, run_id, snapshot)
                    return f"no alert: {snapshot} is published"
                notes.append(
                    f"bi.target_progress has nothing for {snapshot}: marts and bi still show the last good night"
                )
            except Exception as exc:
                notes.append(f"could not check what is published ({type(exc).__name__}: {exc})")
        msg = message.deadline_missed(
            dag_id,
            run_id,
            snapshot,
            dag_run.get("state"),
            _local(deadline) if deadline else "its deadline",
            _run_url(dag_id, run_id),
            notes,
        )
        return outcome_text(deliver(msg))
    except Exception:
        log.exception("could not notify a missed deadline")
        return _not_sent()


async def nightly_deadline_missed(context: dict[str, Any] | None = None, **kwargs: Any) -> str:
    """The DeadlineAlert callback (an AsyncCallback: the triggerer awaits it). The work is blocking
    (SMTP, HTTP, the warehouse), so it runs in a thread; Airflow's SDK calls work from there."""
    return await asyncio.to_thread(deadline_missed, context or {})
