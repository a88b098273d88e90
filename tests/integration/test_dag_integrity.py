"""Team rules for every DAG, checked on the real DAG files through Airflow's own DagBag."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from greencert import feeds, settings, subprocesses
from greencert.orchestration import nightly

DAG_FILES = sorted(settings.DAGS_DIR.glob("*.py"))


@pytest.fixture(scope="module")
def dagbag():
    subprocesses.dbt_parse()  # the nightly DAG renders from the precompiled manifest
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(settings.DAGS_DIR))


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}


def test_one_ingest_dag_per_feed_plus_nightly(dagbag) -> None:
    expected = {f"greencert_ingest_{name}" for name in feeds.registry()} | {"greencert_nightly"}
    assert set(dagbag.dag_ids) == expected


def test_team_rules(dagbag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md, f"{dag_id}: doc_md"
        assert "greencert" in dag.tags, f"{dag_id}: tags"
        assert dag.max_active_runs == 1, f"{dag_id}: max_active_runs"
        timezone = getattr(dag.timetable.timezone, "name", dag.timetable.timezone)
        assert timezone == settings.TIMEZONE, f"{dag_id}: schedule timezone"
        for task in dag.tasks:
            assert task.owner == "greencert-data", f"{dag_id}.{task.task_id}: owner"
            assert task.on_failure_callback, f"{dag_id}.{task.task_id}: failure callback"
            # a task whose worker died mid-task is retried (heartbeat timeout → up_for_retry)
            assert task.retries >= 1, f"{dag_id}.{task.task_id}: retries"


# What an HTML-aware Markdown renderer (the UI's doc_md) takes for a tag and drops: `<date>` in
# "build_<date>" shows as "build_". Code spans and fenced blocks keep it; so does &lt;date&gt;.
TAG = re.compile(r"<(?!https?://|mailto:)[A-Za-z/!?][^<>]*>")


def swallowed_by_html(markdown: str) -> list[str]:
    text = re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)
    text = re.sub(r"(`+)(?!`).+?(?<!`)\1(?!`)", "", text, flags=re.S)
    return TAG.findall(text)


def test_swallowed_by_html_finds_bare_tags_only() -> None:
    assert swallowed_by_html("into build_<date>; reports/<date>/ and <b>x</b>") == ["<date>", "<date>", "<b>", "</b>"]
    assert (
        swallowed_by_html(
            "`build_<date>`, ``a <b> c``, &lt;date&gt;, <https://x.cn/a>, a < b > c,\n```\nreports/<date>/\n```\n"
        )
        == []
    )


def test_doc_md_has_no_word_the_ui_would_swallow(dagbag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert swallowed_by_html(dag.doc_md) == [], f"{dag_id}: doc_md has bare <word>s (use `code` or &lt;)"


def test_extract_tasks_retry(dagbag) -> None:
    for name in feeds.registry():
        assert dagbag.dags[f"greencert_ingest_{name}"].get_task("land").retries >= 1


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_parses_without_running_anything(path: Path, dagbag, monkeypatch) -> None:
    """Parsing does no heavy work: no subprocess (the nightly renders dbt from the precompiled
    manifest, never `dbt ls`) and no database. How long it takes is bench/parse.py's to measure."""
    import subprocess

    import psycopg

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"{path.name} ran {args[:1]} while being parsed")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    monkeypatch.setattr(psycopg, "connect", refuse)
    spec = importlib.util.spec_from_file_location(f"parse_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert [v for v in vars(module).values() if type(v).__name__ == "DAG"]


def test_nightly_publishes_only_after_dbt_and_the_gate(dagbag) -> None:
    dag = dagbag.dags["greencert_nightly"]
    publish, audit = dag.get_task("publish"), dag.get_task("audit")
    assert "audit" in publish.upstream_task_ids
    dbt_tasks = {t.task_id for t in dag.tasks if t.task_id.startswith("dbt.")}
    assert dbt_tasks and dbt_tasks <= audit.get_flat_relative_ids(upstream=True)
    assert all(t.trigger_rule == "all_success" for t in (publish, audit))


def test_nightly_can_rebuild_the_incremental_models_in_full(dagbag) -> None:
    """Triggered with {"full_refresh": true}, the night's dbt build runs with --full-refresh (the way
    to rebuild the incremental staging after a change to its logic or seeds), and so does a sensor's
    own dbt call when it is retried."""
    dag = dagbag.dags["greencert_nightly"]
    assert dag.params["full_refresh"] is False
    producer = dag.get_task(nightly.BUILD_TASK)
    assert producer.full_refresh == "{{ params.full_refresh }}"
    runs = [t for t in dag.tasks if t.task_id.startswith("dbt.") and t.task_id.endswith(".run")]
    assert {"dbt.stg_certificates__certificates.run", "dbt.stg_organic__certificates.run"} <= {t.task_id for t in runs}
    assert all(t.full_refresh == "{{ params.full_refresh }}" for t in runs)


def test_the_nights_dbt_is_one_build_watched_per_model(dagbag) -> None:
    """Cosmos's WATCHER mode: one producer task runs the night's one `dbt build`; every model, seed
    and snapshot of the project has a sensor task, and every tested model a test sensor, which show
    each node's status in the UI. No sensor waits for a test sensor (the build itself skips what a
    failed test feeds, and that node's sensor fails), so the sensors' chain is the models' own."""
    import json

    from cosmos.operators.watcher import DbtProducerWatcherOperator

    dag = dagbag.dags["greencert_nightly"]
    dbt = [t for t in dag.tasks if t.task_id.startswith("dbt.")]
    [producer] = [t for t in dbt if isinstance(t, DbtProducerWatcherOperator)]
    assert (producer.task_id, *producer.downstream_task_ids) == (nightly.BUILD_TASK, nightly.BUILD_DONE_TASK)
    assert producer.upstream_task_ids == {"prepare_build"}
    manifest = json.loads((settings.DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    # an ephemeral model (base_<feed>__accepted_rows) is no node dbt builds: inlined where it is read
    nodes = {
        uid
        for uid, n in manifest["nodes"].items()
        if n["resource_type"] in ("model", "seed", "snapshot") and n["config"]["materialized"] != "ephemeral"
    }
    tests = [t for t in dbt if type(t).__name__ == "DbtTestWatcherOperator" or t.task_id.endswith("_test")]
    sensors = {t.model_unique_id for t in dbt if t is not producer and t not in tests and hasattr(t, "model_unique_id")}
    assert sensors == nodes
    assert tests and all(t.downstream_task_ids == {"audit"} for t in tests)
    assert not [t.task_id for t in dbt if any(u.endswith(".test") for u in t.upstream_task_ids)]
    assert all(t.poke_interval <= 2 for t in dbt if t is not producer and hasattr(t, "poke_interval"))


def test_the_nights_dbt_leaves_the_unit_tests_to_ci(dagbag) -> None:
    """dbt's unit tests (the target math on hand-made rows, tests/integration/test_dbt_build.py) are in
    the manifest, but not in the night: no task renders one or an exposure, the producer's one `dbt
    build` excludes them, and so does every node's own dbt call (a retried sensor's `dbt test`)."""
    import json

    from cosmos.operators.watcher import DbtProducerWatcherOperator

    manifest = json.loads((settings.DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    unit_tests = manifest["unit_tests"]
    assert {u["model"] for u in unit_tests.values()} >= {
        "fct_target_progress",
        "int_certificates_in_force",
        "int_certificates_located",
    }
    dag = dagbag.dags["greencert_nightly"]
    dbt = [t for t in dag.tasks if t.task_id.startswith("dbt.")]
    names = {u["name"] for u in unit_tests.values()} | {e["name"] for e in manifest["exposures"].values()}
    assert not [t.task_id for t in dbt if any(part in names for part in t.task_id.split("."))]
    assert not [t.task_id for t in dbt if "unit_test" in t.task_id or "exposure" in t.task_id]
    assert not [t.task_id for t in dbt if getattr(t, "model_unique_id", "").startswith(("unit_test.", "exposure."))]
    [producer] = [t for t in dbt if isinstance(t, DbtProducerWatcherOperator)]
    assert "resource_type:unit_test" in producer.exclude.split()
    tests = [t for t in dbt if t.task_id.endswith(".test")]
    assert tests and all("resource_type:unit_test" in (t.exclude or "").split() for t in tests)


def test_the_nights_sensors_start_in_the_triggerer(dagbag) -> None:
    """Every node's sensor is started by the scheduler in the triggerer (no task process for a node
    that succeeds); its trigger resumes it on a worker only for a failure or a retry, through
    Cosmos's own execute_complete. The build itself, and every other task, runs on a worker. What
    the scheduler reads is the serialized DAG, so that is what is checked."""
    from airflow.models.trigger import Trigger
    from airflow.serialization.decoders import smart_decode_trigger_kwargs
    from airflow.serialization.serialized_objects import DagSerialization
    from cosmos.operators._watcher.base import BaseConsumerSensor

    from greencert.orchestration import dbt_watch

    dag = dagbag.dags["greencert_nightly"]
    sensors = {t.task_id for t in dag.tasks if isinstance(t, BaseConsumerSensor)}
    assert len(sensors) > 50
    served = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    started = {t.task_id: t.start_trigger_args for t in served.tasks if t.start_from_trigger}
    assert set(started) == sensors
    waits: dict[str, set[str]] = {}
    for task_id, args in started.items():
        sensor = dag.get_task(task_id)
        assert args.trigger_cls == dbt_watch.TRIGGER and args.next_method == "execute_complete"
        # the trigger row the scheduler writes, read back as the triggerer reads it
        row = Trigger(classpath=args.trigger_cls, kwargs=args.trigger_kwargs)
        trigger = dbt_watch.NodeTrigger(**{k: smart_decode_trigger_kwargs(v) for k, v in row.kwargs.items()})
        assert (trigger.model_unique_id, trigger.producer_task_id, trigger.is_test_sensor) == (
            sensor.model_unique_id,
            nightly.BUILD_TASK,
            sensor.is_test_sensor,
        )
        # it starts with the night, and waits for what its node reads only when the build did not build it
        assert served.get_task(task_id).trigger_rule == "always"
        assert set(trigger.waits_for) >= sensor.upstream_task_ids
        waits[task_id] = set(trigger.waits_for)
    # no sensor waits, however indirectly, for itself (a test spanning models follows the models
    # that would otherwise follow it): a night whose build failed ends
    for start in waits:
        seen, todo = set(), list(waits[start])
        while todo:
            task_id = todo.pop()
            assert task_id != start, f"{start} waits for itself"
            if task_id not in seen:
                seen.add(task_id)
                todo.extend(waits.get(task_id, ()))

    def trigger_of(task_id: str) -> dbt_watch.NodeTrigger:
        kwargs = Trigger(classpath=dbt_watch.TRIGGER, kwargs=started[task_id].trigger_kwargs).kwargs
        return dbt_watch.NodeTrigger(**{k: smart_decode_trigger_kwargs(v) for k, v in kwargs.items()})

    fact = trigger_of("dbt.fct_t02_green_food_certificates.run")
    located = "dbt.int_green_food_products_located"
    assert {f"{located}.run", f"{located}.test"} <= set(fact.waits_for)
    assert "prepare_build" in trigger_of("dbt.programs.seed").waits_for


def test_nightly_notifies_its_success_and_alerts_when_not_published_by_seven(dagbag) -> None:
    """Success: a summary by e-mail/webhook. Deadline: a scheduled run's logical date is its 23:30
    Asia/Shanghai trigger time (CronTriggerTimetable); not published 7 h 30 later, at 07:00, → alert."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from airflow.sdk import AsyncCallback, DeadlineReference
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    from greencert.notify import callbacks

    dag = dagbag.dags["greencert_nightly"]
    assert dag.on_success_callback is callbacks.nightly_succeeded
    [alert] = dag.deadline
    assert alert.reference == DeadlineReference.DAGRUN_LOGICAL_DATE
    assert isinstance(alert.callback, AsyncCallback)
    assert alert.callback.path == "greencert.notify.callbacks.nightly_deadline_missed"

    timetable = coerce_to_core_timetable(dag.timetable)
    run = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=datetime(2025, 6, 30, tzinfo=UTC), latest=None, catchup=True),
    )
    shanghai = ZoneInfo(settings.TIMEZONE)
    assert run.logical_date.astimezone(shanghai) == datetime(2025, 6, 30, 23, 30, tzinfo=shanghai)
    assert (run.logical_date + alert.interval).astimezone(shanghai) == datetime(2025, 7, 1, 7, 0, tzinfo=shanghai)


def test_failure_callback_notifies(dagbag) -> None:
    from greencert.notify import callbacks

    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            assert callbacks.task_failed in task.on_failure_callback, f"{dag_id}.{task.task_id}"
