"""The nightly warehouse DAG: fresh build schema → dbt (Cosmos) → mart gate (GX) → publish → report
(the terminal summary, and the report folder `var/reports/<date>/` with its HTML page and XLSX workbook).

Write-audit-publish: dbt writes the night's models into `build_nightly` (its date in
`build_nightly.build_info`); the published `marts`/`bi` schemas and target_progress_history change
in the single publish transaction, after the audit passed. The big registers' staging is
incremental, in the persistent `staging` schema (it holds what the raw gate accepted, not published
numbers); trigger with {"full_refresh": true} to rebuild it from every accepted batch, and with
{"as_of_date": "2025-06-30"} to build a past date.

The `dbt` group is the night's one `dbt build` (task `dbt.dbt_producer_watcher`: its log is dbt's)
and one sensor per model, seed and snapshot and per model's tests (Cosmos's WATCHER mode), which
turn green, or red, as the build reports each node. The sensors start in the triggerer as the night
starts (orchestration/dbt_watch.py): a node that succeeds costs no task process, and no sensor waits
for another (the edges show dbt's order; the build keeps it). A failed model or test fails its
sensor (on a worker, naming the model), and the sensors of what depends on it (dbt skips those;
they fail in the triggerer, once their upstream has failed, with no second notification), and
nothing is published. Retrying a failed sensor runs that model's own dbt call, after what it reads.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from greencert import feeds, settings, snapshot_date
from greencert.connections import TRANSFORMER_CONN, conninfo
from greencert.orchestration.common import RETRIES, default_args
from greencert.orchestration.dbt_in_process import speed_up_dbt
from greencert.publish.swap import NIGHTLY_BUILD

DAG_ID = "greencert_nightly"
RUNS_AT = time(23, 30)  # Asia/Shanghai, after the feeds' 23:00 ingest
SCHEDULE = f"{RUNS_AT.minute} {RUNS_AT.hour} * * *"
PUBLISH_BY = time(7, 0)  # Asia/Shanghai: the deadline alert fires when the night has not published by then


def publish_deadline() -> timedelta:
    """From the run's logical date (its 23:30 trigger time: CronTriggerTimetable) to 07:00 the next morning."""
    day = datetime(2025, 1, 1)
    return (datetime.combine(day, PUBLISH_BY) - datetime.combine(day, RUNS_AT)) % timedelta(days=1)


def _hours_minutes(span: timedelta) -> str:
    minutes = int(span.total_seconds()) // 60
    return f"{minutes // 60}h{minutes % 60:02d}" if minutes % 60 else f"{minutes // 60}h"


def deadline_alert() -> Any:
    """Not published by 07:00 Asia/Shanghai → alert. Airflow's scheduler notices the deadline passed,
    the triggerer awaits the callback; a run that succeeds before it has its deadline removed.

    The interval is exactly 7 h 30 (Airflow records 07:00 as the run's deadline); the UI's DAG
    details humanize it ("Must complete within 8 hours of logical date"), so the name, shown beside
    that line, states the exact rule."""
    from airflow.sdk import (  # type: ignore[attr-defined]  # exported, but missing from airflow.sdk's __init__.pyi
        AsyncCallback,
        DeadlineAlert,
        DeadlineReference,
    )

    from greencert.notify.callbacks import nightly_deadline_missed

    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=publish_deadline(),
        callback=AsyncCallback(nightly_deadline_missed),
        name=f"published by {PUBLISH_BY:%H:%M} {settings.TIMEZONE} (logical date {RUNS_AT:%H:%M} + "
        f"{_hours_minutes(publish_deadline())})",
    )


MANIFEST = settings.DBT_PROJECT_DIR / "target" / "manifest.json"

BUILD_SCHEMA = NIGHTLY_BUILD  # one name every night: dbt's partial parsing survives from night to night
DBT_GROUP = "dbt"
# the tasks Cosmos's WATCHER mode adds to the group (cosmos.constants.PRODUCER_WATCHER_TASK_ID and
# PRODUCER_WATCHER_DONE_TASK_ID; spelt out so importing this module does not import Cosmos): the
# night's one `dbt build`, and the gate after it, which the scheduler marks done on no worker
BUILD_TASK = f"{DBT_GROUP}.dbt_producer_watcher"
BUILD_DONE_TASK = f"{BUILD_TASK}_done"
# what the night's dbt leaves out: dbt's unit tests run in CI (tests/integration/test_dbt_build.py)
NIGHTLY_EXCLUDE = ("resource_type:unit_test",)


def dbt_env() -> dict[str, str]:
    """dbt's profile reads these; values come from the Airflow connection at run time."""
    conn = "conn." + TRANSFORMER_CONN
    return {
        "GREENCERT_DBT_HOST": "{{ " + conn + ".host }}",
        "GREENCERT_DBT_PORT": "{{ " + conn + ".port }}",
        "GREENCERT_DBT_USER": "{{ " + conn + ".login }}",
        "GREENCERT_DBT_PASSWORD": "{{ " + conn + ".password }}",
        "GREENCERT_DBT_DATABASE": "{{ " + conn + ".schema }}",
        "GREENCERT_BUILD_SCHEMA": BUILD_SCHEMA,
    }


def tests_beside_their_models(group: Any) -> None:
    """Cosmos's AFTER_EACH graph runs a model's tests between it and the next model (model.run →
    model.test → next.run), as `dbt build` orders them. Under WATCHER the producer's one `dbt build`
    already does so (a failed test skips what depends on it, and that sensor fails); in Airflow the
    sensors only report. Each sensor that follows a test sensor follows the test's own model
    instead: the tests become leaves of the group (the audit still waits for every one), and the
    sensors' chain is half as deep (every link is a scheduler round and a task start)."""
    tasks = {t.task_id: t for t in group.dag.tasks if t.task_id.startswith(group.group_id + ".")}
    for test in [t for t in tasks.values() if t.task_id.endswith(".test")]:
        models = [tasks[u] for u in test.upstream_task_ids if u in tasks]
        for down_id in list(test.downstream_task_ids):
            if down_id not in tasks:
                continue
            test.downstream_task_ids.discard(down_id)
            tasks[down_id].upstream_task_ids.discard(test.task_id)
            for model in models:
                model >> tasks[down_id]


def build() -> Any:
    from airflow.sdk import DAG, Asset, CronTriggerTimetable, task
    from airflow.sdk.exceptions import AirflowFailException
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior, TestIndirectSelection

    from greencert.notify.callbacks import nightly_succeeded
    from greencert.orchestration.dbt_watch import watch_from_triggerer

    if not MANIFEST.exists():
        raise FileNotFoundError(
            f"{MANIFEST} is missing: compile the dbt manifest before starting Airflow "
            "(`greencert dbt-parse`, which `make demo` and the tests run)"
        )

    raw_assets = [Asset(name=f"raw.{f.name}", uri=f.asset_uri) for f in feeds.registry().values()]
    published = Asset(name="marts.fct_target_progress", uri="greencert://marts/fct_target_progress")

    with DAG(
        dag_id=DAG_ID,
        description="Nightly build, audit and publish of the target-progress marts",
        doc_md=__doc__,
        schedule=CronTriggerTimetable(SCHEDULE, timezone=settings.TIMEZONE),
        catchup=False,
        max_active_runs=1,
        default_args=default_args(retries=RETRIES),
        # summary + report path by e-mail / webhook (it returns its outcome, for the tests: Airflow types
        # a callback as returning None)
        on_success_callback=nightly_succeeded,  # type: ignore[arg-type]
        deadline=deadline_alert(),  # not published by 07:00 Asia/Shanghai → alert
        # full_refresh: rebuild the incremental staging models from every accepted batch (after a
        # change to their logic or to the seeds they read), as `dbt build --full-refresh`
        params={"as_of_date": None, "full_refresh": False},
        tags=["greencert", "nightly"],
    ) as dag:

        @task(inlets=raw_assets)
        def prepare_build(**context: Any) -> str:
            """A fresh build schema holding the night's date; the project parsed once for the dbt tasks."""
            from greencert import environment
            from greencert.orchestration.dbt_in_process import warm_partial_parse
            from greencert.publish.swap import prepare_build

            url = conninfo(TRANSFORMER_CONN)
            schema = prepare_build(url, BUILD_SCHEMA, snapshot_date.of_context(context))
            warm_partial_parse(environment.dbt_env(url, BUILD_SCHEMA), f"{DAG_ID}__{DBT_GROUP}")
            return schema

        dbt = DbtTaskGroup(
            group_id=DBT_GROUP,
            project_config=ProjectConfig(
                dbt_project_path=settings.DBT_PROJECT_DIR,
                manifest_path=MANIFEST,
                project_name="greencert",
            ),
            profile_config=ProfileConfig(
                profile_name="greencert",
                target_name="transformer",
                profiles_yml_filepath=settings.DBT_PROJECT_DIR / "profiles.yml",
            ),
            # one `dbt build` (the producer); a sensor per node and per node's tests; a test spanning
            # two nodes (relationships, city = sum of regions) has its own sensor
            render_config=RenderConfig(
                load_method=LoadMode.DBT_MANIFEST,
                # dbt's unit tests (the target math on hand-made rows) are CI's, not the night's: Cosmos
                # passes this to the producer's `dbt build` (--exclude) and to every node's own dbt call
                exclude=list(NIGHTLY_EXCLUDE),
                test_behavior=TestBehavior.AFTER_EACH,
                should_detach_multiple_parents_tests=True,
            ),
            execution_config=ExecutionConfig(
                execution_mode=ExecutionMode.WATCHER,
                invocation_mode=InvocationMode.DBT_RUNNER,
                test_indirect_selection=TestIndirectSelection.CAUTIOUS,
            ),
            operator_args={
                "pre_execute": speed_up_dbt,
                "emit_datasets": False,
                "install_deps": False,
                "env": dbt_env(),
                "full_refresh": "{{ params.full_refresh }}",
                "poke_interval": 2,  # a deferred sensor's XCom poll in the triggerer (Cosmos: 10 s)
            },
        )
        tests_beside_their_models(dbt)

        @task
        def audit(build_schema: str, **context: Any) -> dict[str, Any]:
            from greencert.quality import gx_run, mart_gate

            outcome = mart_gate.audit(conninfo(TRANSFORMER_CONN), build_schema, run_id=context["run_id"])
            print(outcome.summary())
            if not outcome.success:
                raise AirflowFailException(
                    "mart gate failed, nothing published:\n"
                    + outcome.summary()
                    + f"\nData Docs: {gx_run.data_docs_index()}"
                )
            return {"checks": len(outcome.checks), "warnings": [c.why for c in outcome.warnings]}

        @task(outlets=[published])
        def publish(build_schema: str, **context: Any) -> dict[str, Any]:
            from greencert.publish.swap import publish as do_publish

            result = do_publish(conninfo(TRANSFORMER_CONN), build_schema, snapshot_date.of_context(context))
            return {
                "snapshot_date": result.snapshot_date.isoformat(),
                "history_rows_written": result.history_rows_written,
            }

        @task
        def summary(**context: Any) -> str:
            from greencert.report.progress_table import progress_table

            text = progress_table(conninfo(TRANSFORMER_CONN), snapshot_date.of_context(context))
            print(text)
            return text

        @task
        def report(**context: Any) -> dict[str, str]:
            """The snapshot date's report folder (HTML with its charts, XLSX), from what was published."""
            from greencert.report.write import write_report

            files = write_report(conninfo(TRANSFORMER_CONN), snapshot_date.of_context(context))
            print(f"report: {files.html}\n        {files.xlsx}")
            return files.as_dict()

        schema = prepare_build()
        # TaskFlow: a task called with another's XComArg (Airflow types the call as the function's own)
        gate = audit(schema)  # type: ignore[arg-type]
        published_ = publish(schema)  # type: ignore[arg-type]
        schema >> dbt >> gate >> published_ >> [summary(), report()]
        # after the edges: a sensor's trigger is told what its node reads, prepare_build included
        watch_from_triggerer([t for t in dag.tasks if t.task_id.startswith(DBT_GROUP + ".")])

    return dag
