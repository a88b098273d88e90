"""Driver for test_notify: real Airflow runs of two probe DAGs, then Airflow's own deadline handling.

Run in a subprocess with an Airflow environment whose DAG folder holds PROBE_DAGS (test_notify sets
it up):
1. both probe DAGs run through `DAG.test()`, as `airflow dags test` does: `greencert_probe_fails`
   (greencert's default_args, its task raises: the failure callback fires) and
   `greencert_probe_publishes` (the nightly's success callback; `audit` and `report` return what the
   nightly's do); both carry the nightly's DeadlineAlert, at 23:30 Asia/Shanghai logical dates;
   (the second without its deadline: without_deadline; its success callback reads XCom from the
   metadata DB, which DAG.test() has and its missing supervisor would have served: xcoms_from_the_db);
   then the failing probe again for a past date, triggered now: a manual rerun, created after its deadline;
2. what the scheduler does with deadlines that passed (`Deadline.handle_miss` queues the callback as
   a trigger), then what the triggerer does with that trigger (`CallbackTrigger.run()` imports and
   awaits the callback with the run's context, and stores each event it yields, the callback's return
   value included, as the triggerer does: Trigger.submit_event).
Prints one JSON line: the runs' states, the deadlines Airflow recorded, the callback trigger events.

Usage: python -m tests.integration.notify_probe FAILS_DATE PUBLISHES_DATE RERUN_DATE
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

FAILS = "greencert_probe_fails"
PUBLISHES = "greencert_probe_publishes"
RERUN = "rerun"  # the failing probe again, for a past date, triggered now

PROBE_DAGS = '''
"""Probe DAGs for tests/integration/test_notify.py (greencert's callbacks and deadline)."""
from airflow.sdk import DAG, task

from greencert.notify.callbacks import nightly_succeeded
from greencert.orchestration.common import default_args
from greencert.orchestration.nightly import deadline_alert

with DAG("greencert_probe_fails", schedule=None, default_args=default_args(), deadline=deadline_alert(),
         tags=["greencert"]) as fails:
    @task
    def audit():
        raise RuntimeError("probe: the mart gate refused T06 (苏州 city total fell 40%)")

    audit()

with DAG("greencert_probe_publishes", schedule=None, default_args=default_args(),
         on_success_callback=nightly_succeeded, deadline=deadline_alert(), tags=["greencert"]) as publishes:
    @task
    def audit():
        return {"checks": 3, "warnings": ["organic: last accepted batch 3 days old"]}

    @task
    def report():
        return {"html": "/srv/reports/probe/report.html", "xlsx": "/srv/reports/probe/report.xlsx"}

    audit() >> report()
'''


def evening(day: date) -> datetime:
    """The nightly's logical date for a snapshot date: its 23:30 Asia/Shanghai trigger time."""
    from greencert.orchestration.nightly import RUNS_AT

    return datetime.combine(day, RUNS_AT, ZoneInfo("Asia/Shanghai"))


def without_deadline(dag: Any) -> Any:
    """The DAG for DAG.test(), without its deadline alert.

    Airflow 3.3's DAG.test() of a DAG with a deadline ends in an error once the run has succeeded
    (apache/airflow#73428: its in-memory scheduler DAG holds the encoded alerts where
    DagRun.update_state looks up deadline_alert ids). DAG.test() runs no scheduler or triggerer, so
    no deadline could fire here anyway.
    """
    dag.deadline = None
    return dag


class _XComsFromTheDb:
    """A DAG callback's task instance whose XCom reads go to the metadata DB.

    The DAG processor runs a DAG's callbacks with the Task SDK's supervisor at hand, which serves
    `ti.xcom_pull` (what greencert.notify.callbacks uses); DAG.test() runs them in its own process with
    none, so the harness reads what the supervisor would have served: the run's XCom rows."""

    def __init__(self, ti: Any) -> None:
        self._ti = ti

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ti, name)

    def xcom_pull(self, task_ids: str, key: str = "return_value", **_: Any) -> Any:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            row = session.scalars(
                XComModel.get_many(run_id=self._ti.run_id, dag_ids=self._ti.dag_id, task_ids=task_ids, key=key, limit=1)
            ).first()
            return XComModel.deserialize_value(row) if row is not None else None


def xcoms_from_the_db(dag: Any) -> Any:
    """The DAG for DAG.test(), its success callbacks given a task instance that reads XCom from the DB."""
    callbacks = dag.on_success_callback if isinstance(dag.on_success_callback, list) else [dag.on_success_callback]

    def wrap(callback: Any) -> Any:
        def under_dag_test(context: Any) -> Any:
            ti = _XComsFromTheDb(context.get("ti") or context.get("task_instance"))
            return callback({**context, "ti": ti, "task_instance": ti})

        under_dag_test.__name__ = getattr(callback, "__name__", "callback")
        return under_dag_test

    dag.on_success_callback = [wrap(c) for c in callbacks if c is not None]
    return dag


def load_dags() -> dict[str, Any]:
    """Every DAG of the configured bundles, parsed once and serialized to the metadata DB."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    dags: dict[str, Any] = {}
    for bundle in manager.get_all_dag_bundles():
        bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
        if bag.import_errors:
            raise SystemExit(f"DAG import errors: {bag.import_errors}")
        sync_bag_to_db(bag, bundle.name, bundle.version)  # Airflow ≥ 3.1 runs only serialized DAGs
        dags.update(bag.dags)
    return dags


def run_dags(days: dict[str, date], rerun_day: date) -> dict[str, tuple[str, str]]:
    """Each probe DAG through DAG.test() at its date's 23:30 Asia/Shanghai: {dag_id: (run_id, state)};
    and RERUN: the failing probe again for rerun_day, triggered now (a manual rerun of a past date)."""
    dags = load_dags()
    runs = {}
    for dag_id, day in days.items():
        # the failing probe keeps its deadline (Airflow records it; apache/airflow#73428 bites only runs
        # that succeed), asked for at its logical date as the scheduler asks for a night (run_after);
        # the other goes through DAG.test() without it
        if dag_id == FAILS:
            run = dags[dag_id].test(logical_date=evening(day), run_after=evening(day))
        else:
            run = xcoms_from_the_db(without_deadline(dags[dag_id])).test(logical_date=evening(day))
        runs[dag_id] = (run.run_id, str(run.state))
    run = dags[FAILS].test(logical_date=evening(rerun_day))  # run_after: now, long after its deadline
    runs[RERUN] = (run.run_id, str(run.state))
    return runs


def handle_deadlines(run_ids: list[str]) -> tuple[list[dict], list[dict]]:
    """The scheduler's and the triggerer's parts for these runs' deadlines."""
    from airflow._shared.module_loading import import_string
    from airflow.models import DagRun, Deadline, Trigger
    from airflow.models.callback import Callback
    from airflow.triggers.base import BaseTrigger, TriggerEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    with create_session() as session:
        deadlines = session.scalars(
            select(Deadline)
            .join(Deadline.dagrun)
            .where(DagRun.run_id.in_(run_ids))
            .options(selectinload(Deadline.dagrun), selectinload(Deadline.callback))
        ).all()
        recorded = [
            {
                "dag_id": d.dagrun.dag_id,
                "run_id": d.dagrun.run_id,
                "run_state": str(d.dagrun.state),
                "logical_date": d.dagrun.logical_date.isoformat(),
                "deadline_time": d.deadline_time.isoformat(),
            }
            for d in deadlines
        ]
        # the scheduler's loop: a deadline that passed and was not handled yet → handle_miss queues its
        # callback as a trigger
        now = datetime.now(ZoneInfo("UTC"))
        for deadline in deadlines:
            if deadline.deadline_time < now and not deadline.missed:
                deadline.handle_miss(session)
        session.flush()
        # the triggerer's part: each trigger built as the triggerer builds it (class path, stored kwargs)
        queued = [
            (
                d.dagrun.run_id,
                d.callback.id,
                d.callback.trigger.id,
                d.callback.trigger.classpath,
                d.callback.trigger.kwargs,
            )
            for d in deadlines
            if d.callback is not None and d.callback.trigger is not None
        ]

    async def run(trigger: BaseTrigger) -> list[dict]:
        return [event.payload async for event in trigger.run()]

    events = []
    for run_id, callback_id, trigger_id, classpath, kwargs in queued:
        trigger = import_string(classpath)(**kwargs)
        payloads = asyncio.run(run(trigger))
        # and what the triggerer does with each event: Trigger.submit_event → Callback.handle_event,
        # which stores the callback's return value in callback.output (a Text column)
        for payload in payloads:
            with create_session() as session:
                Trigger.submit_event(trigger_id, TriggerEvent(payload), session=session)
        with create_session() as session:
            stored = session.get(Callback, callback_id)
            state = getattr(stored.state, "value", stored.state)
            events.append(
                {
                    "run_id": run_id,
                    "classpath": classpath,
                    "callback": getattr(trigger, "callback_path", None),
                    "payloads": payloads,
                    "stored": {"state": state, "output": stored.output},
                }
            )
    return recorded, events


if __name__ == "__main__":
    fails_day, publishes_day, rerun_day = (date.fromisoformat(a) for a in sys.argv[1:4])
    runs = run_dags({FAILS: fails_day, PUBLISHES: publishes_day}, rerun_day)
    recorded, events = handle_deadlines([run_id for run_id, _ in runs.values()])
    print(
        json.dumps(
            {
                "states": {dag_id: state for dag_id, (_, state) in runs.items()},
                "run_ids": {dag_id: run_id for dag_id, (run_id, _) in runs.items()},
                "deadlines": recorded,
                "events": events,
            },
            default=str,
        )
    )
