"""The night's node trigger (greencert.orchestration.dbt_watch.NodeTrigger): what it tells the
triggerer for each state the WATCHER producer reports. The producer's XCom and task state are
what Airflow serves it at run time; here they are a dict."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.triggers.base import TaskSkippedEvent, TaskSuccessEvent, TriggerEvent
from cosmos.operators._watcher.state import get_status_xcom_key
from cosmos.operators._watcher.triggerer import EventStatus, WatcherEventReason

from greencert.orchestration.dbt_watch import TRIGGER, NodeTrigger

MODEL = "model.greencert.fct_t06_ems_certificates"
STATUS = get_status_xcom_key(MODEL)


def events(xcom: dict[str, Any], producer: str | None = "running", try_number: int = 1,
           is_test_sensor: bool = False) -> list[TriggerEvent]:
    trigger = NodeTrigger(model_unique_id=MODEL, producer_task_id="dbt.dbt_producer_watcher",
                          dag_id="greencert_nightly", poke_interval=0.01, is_test_sensor=is_test_sensor)
    trigger.task_instance = SimpleNamespace(dag_id="greencert_nightly", task_id="dbt.fct_t06.run",
                                            run_id="scheduled__1", map_index=-1, try_number=try_number)

    async def get_xcom_val(key: str) -> Any:
        return xcom.get(key)

    async def producer_state() -> str | None:
        return producer

    trigger.get_xcom_val = get_xcom_val  # type: ignore[method-assign]
    trigger._get_producer_task_status = producer_state  # type: ignore[method-assign]

    async def collect() -> list[TriggerEvent]:
        return [e async for e in trigger.run()]

    out = asyncio.run(asyncio.wait_for(collect(), timeout=5))
    assert trigger.run_id == "scheduled__1"  # the run comes from the task instance the triggerer gives it
    return out


def test_a_node_that_succeeded_ends_its_task_in_the_triggerer() -> None:
    [event] = events({STATUS: {"status": "success"}})
    assert isinstance(event, TaskSuccessEvent)


def test_a_node_that_dbt_skipped_is_skipped_in_the_triggerer() -> None:
    [event] = events({STATUS: {"status": "skipped"}})
    assert isinstance(event, TaskSkippedEvent)


def test_a_failed_node_goes_back_to_the_sensor_which_names_it() -> None:
    [event] = events({STATUS: {"status": "error"}})
    assert type(event) is TriggerEvent
    assert event.payload == {"status": EventStatus.FAILED, "reason": WatcherEventReason.NODE_FAILED}


def test_a_retry_goes_to_the_sensor_for_the_nodes_own_dbt_call() -> None:
    [event] = events({STATUS: {"status": "success"}}, try_number=2)
    assert type(event) is TriggerEvent
    assert event.payload == {"status": EventStatus.FAILED, "reason": WatcherEventReason.PRODUCER_SKIPPED}


def test_a_failed_producer_fails_the_node() -> None:
    [event] = events({}, producer="failed")
    assert event.payload["reason"] == WatcherEventReason.PRODUCER_FAILED


def test_it_serializes_under_its_own_name() -> None:
    classpath, kwargs = NodeTrigger(model_unique_id=MODEL, producer_task_id="p", dag_id="d").serialize()
    assert classpath == TRIGGER and NodeTrigger(**kwargs).model_unique_id == MODEL


@pytest.mark.parametrize("status", ["pass", "fail"])
def test_a_models_tests_are_read_from_their_aggregate(status: str) -> None:
    from cosmos.operators._watcher.aggregation import get_tests_status_xcom_key

    [event] = events({get_tests_status_xcom_key(MODEL): status}, is_test_sensor=True)
    assert isinstance(event, TaskSuccessEvent) if status == "pass" else event.payload["status"] == EventStatus.FAILED
