"""The night's node trigger (greencert.orchestration.dbt_watch.NodeTrigger): what it tells the
triggerer for each state the WATCHER producer reports. The producer's XCom and task state are
what Airflow serves it at run time; here they are a dict."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.triggers.base import TaskFailedEvent, TaskSuccessEvent, TriggerEvent
from cosmos.operators._watcher.state import get_status_xcom_key
from cosmos.operators._watcher.triggerer import EventStatus, WatcherEventReason

from greencert.notify import UPSTREAM_FAILED_KEY
from greencert.orchestration import dbt_watch
from greencert.orchestration.dbt_in_process import STATUSES_KEY
from greencert.orchestration.dbt_watch import TRIGGER, NodeTrigger

MODEL = "model.greencert.fct_t06_ems_certificates"
STATUS = get_status_xcom_key(MODEL)


UPSTREAM = ["dbt.int_certificates_in_force.run", "dbt.int_certificates_in_force.test"]


@pytest.fixture(autouse=True)
def no_boards() -> None:
    dbt_watch._BOARDS.clear()  # each test's event loop its own


def events(
    xcom: dict[str, Any],
    producer: str | None = "running",
    try_number: int = 1,
    is_test_sensor: bool = False,
    upstream: list[dict[str, str | None]] | None = None,
) -> list[TriggerEvent]:
    """What the trigger yields; `upstream`: the states of what the node reads, one dict per read
    (the last one repeats)."""
    trigger = NodeTrigger(
        model_unique_id=MODEL,
        producer_task_id="dbt.dbt_producer_watcher",
        dag_id="greencert_nightly",
        poke_interval=0.01,
        is_test_sensor=is_test_sensor,
        waits_for=UPSTREAM,
    )
    trigger.task_instance = SimpleNamespace(
        dag_id="greencert_nightly",
        task_id="dbt.fct_t06.run",
        run_id="scheduled__1",
        map_index=-1,
        try_number=try_number,
    )

    async def get_xcom_val(key: str) -> Any:  # the build pushes every status in one value
        return {STATUSES_KEY: xcom}.get(key)

    async def producer_state() -> str | None:
        return producer

    reads = list(upstream or [dict.fromkeys(UPSTREAM, "success")])

    async def upstream_states() -> dict[str, str | None]:
        return reads.pop(0) if len(reads) > 1 else reads[0]

    trigger.get_xcom_val = get_xcom_val  # type: ignore[method-assign]
    trigger._get_producer_task_status = producer_state  # type: ignore[method-assign]
    trigger._upstream_states = upstream_states  # type: ignore[method-assign]

    async def collect() -> list[TriggerEvent]:
        return [e async for e in trigger.run()]

    out = asyncio.run(asyncio.wait_for(collect(), timeout=5))
    assert trigger.run_id == "scheduled__1"  # the run comes from the task instance the triggerer gives it
    return out


def test_a_node_that_succeeded_ends_its_task_in_the_triggerer() -> None:
    [event] = events({STATUS: {"status": "success"}})
    assert isinstance(event, TaskSuccessEvent)


def test_a_node_dbt_skipped_is_built_on_its_own_once_what_it_reads_succeeded(monkeypatch) -> None:
    """dbt skipped the node (something it reads failed in the build); the sensors of both retried:
    on its retry the node waits for its upstream's own dbt call and, once that succeeded, makes its
    own (on a worker)."""
    monkeypatch.setattr(dbt_watch, "UPSTREAM_POLL_S", 0.01)
    waiting = {UPSTREAM[0]: "up_for_retry", UPSTREAM[1]: "success"}
    reads = [waiting, {**waiting, UPSTREAM[0]: "running"}, dict.fromkeys(UPSTREAM, "success")]
    [event] = events({STATUS: {"status": "skipped"}}, try_number=2, upstream=reads)
    assert type(event) is TriggerEvent
    assert event.payload == {"status": EventStatus.FAILED, "reason": WatcherEventReason.PRODUCER_SKIPPED}


def test_on_its_first_try_a_node_fails_beside_an_upstream_that_retries(monkeypatch) -> None:
    monkeypatch.setattr(dbt_watch, "UPSTREAM_POLL_S", 0.01)
    reads = [{UPSTREAM[0]: "running", UPSTREAM[1]: "success"}, {UPSTREAM[0]: "up_for_retry", UPSTREAM[1]: "success"}]
    [event] = events({STATUS: {"status": "skipped"}}, upstream=reads)
    assert isinstance(event, TaskFailedEvent) and event.xcoms == {UPSTREAM_FAILED_KEY: [UPSTREAM[0]]}


@pytest.mark.parametrize("state", ["failed", "upstream_failed", "skipped"])
def test_a_node_dbt_skipped_fails_in_the_triggerer_when_what_it_reads_did_not_succeed(state: str) -> None:
    [event] = events({STATUS: {"status": "skipped"}}, upstream=[{UPSTREAM[0]: "success", UPSTREAM[1]: state}])
    assert isinstance(event, TaskFailedEvent) and event.xcoms == {UPSTREAM_FAILED_KEY: [UPSTREAM[1]]}


def test_a_failed_producer_fails_the_node_in_the_triggerer_when_what_it_reads_failed_too() -> None:
    [event] = events({}, producer="upstream_failed", upstream=[dict.fromkeys(UPSTREAM, "upstream_failed")])
    assert isinstance(event, TaskFailedEvent) and event.xcoms == {UPSTREAM_FAILED_KEY: UPSTREAM}


def test_a_failed_node_goes_back_to_the_sensor_which_names_it() -> None:
    [event] = events({STATUS: {"status": "error"}})
    assert type(event) is TriggerEvent
    assert event.payload == {"status": EventStatus.FAILED, "reason": WatcherEventReason.NODE_FAILED}


def test_a_retry_goes_to_the_sensor_for_the_nodes_own_dbt_call() -> None:
    [event] = events({STATUS: {"status": "success"}}, try_number=2)
    assert type(event) is TriggerEvent
    assert event.payload == {"status": EventStatus.FAILED, "reason": WatcherEventReason.PRODUCER_SKIPPED}


def test_a_retry_waits_for_what_the_node_reads_to_be_built_again(monkeypatch) -> None:
    """A cleared node and what it reads start together (the sensors do not wait for each other):
    its own dbt call waits until the upstream's own has succeeded."""
    monkeypatch.setattr(dbt_watch, "UPSTREAM_POLL_S", 0.01)
    reads = [{UPSTREAM[0]: s, UPSTREAM[1]: "success"} for s in ("deferred", "running", None, "success")]
    [event] = events({}, try_number=2, upstream=reads)
    assert event.payload["reason"] == WatcherEventReason.PRODUCER_SKIPPED
    reads = [{UPSTREAM[0]: "running"}, {UPSTREAM[0]: "failed", UPSTREAM[1]: "success"}]
    [event] = events({}, try_number=2, upstream=reads)
    assert isinstance(event, TaskFailedEvent) and event.xcoms == {UPSTREAM_FAILED_KEY: [UPSTREAM[0]]}


def test_a_failed_producer_fails_the_node() -> None:
    [event] = events({}, producer="failed")
    assert event.payload["reason"] == WatcherEventReason.PRODUCER_FAILED


def test_it_serializes_under_its_own_name() -> None:
    trigger = NodeTrigger(model_unique_id=MODEL, producer_task_id="p", dag_id="d", waits_for=UPSTREAM)
    classpath, kwargs = trigger.serialize()
    assert classpath == TRIGGER and NodeTrigger(**kwargs).model_unique_id == MODEL
    assert NodeTrigger(**kwargs).waits_for == UPSTREAM


@pytest.mark.parametrize("status", ["pass", "fail"])
def test_a_models_tests_are_read_from_their_aggregate(status: str) -> None:
    from cosmos.operators._watcher.aggregation import get_tests_status_xcom_key

    [event] = events({get_tests_status_xcom_key(MODEL): status}, is_test_sensor=True)
    assert isinstance(event, TaskSuccessEvent) if status == "pass" else event.payload["status"] == EventStatus.FAILED
