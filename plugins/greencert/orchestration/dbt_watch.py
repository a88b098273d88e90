"""The night's per-node sensors, watched from the triggerer alone (no task process for a node that
succeeds).

Under Cosmos's WATCHER mode each dbt node has a sensor; as Cosmos builds them, each one starts in a
task process, reads the producer's XCom and, if its node is not done, defers to the triggerer and
comes back in a second task process. On this 2-core machine a task process costs ~0.8 CPU-s, and the
night has ~100 sensors: most of the night was Airflow starting processes to read a status.

Here each sensor starts in the triggerer (Airflow's `start_from_trigger`): the scheduler defers it
as it becomes ready, a trigger (Cosmos's WatcherTrigger, its loop cut down to the node's status)
polls, and a node that succeeds or that dbt skipped ends the task there (TaskSuccessEvent /
TaskSkippedEvent: the sensor's log is the trigger's; Cosmos's compiled-SQL field stays empty). Everything else goes
back to the sensor on a worker, as before: a failed node (its `execute_complete` raises, naming the
model, and the task's retries apply) and a retry, which runs the node's own dbt call
(`try_number` > 1, the path Cosmos takes when the producer did not run it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

# the triggerer's event types: Airflow core (the task SDK has no public name for them)
from airflow.triggers.base import StartTriggerArgs, TaskSkippedEvent, TaskSuccessEvent, TriggerEvent
from cosmos.operators._watcher.aggregation import get_tests_status_xcom_key
from cosmos.operators._watcher.base import BaseConsumerSensor
from cosmos.operators._watcher.state import (
    PRODUCER_FINAL_STATES,
    ProducerTaskState,
    is_dbt_node_status_failed,
    is_dbt_node_status_skipped,
    is_dbt_node_status_success,
)
from cosmos.operators._watcher.triggerer import EventStatus, WatcherEventReason, WatcherTrigger

TRIGGER = f"{__name__}.NodeTrigger"
PRODUCER_EVERY = 5  # polls between two reads of the build's task state


class NodeTrigger(WatcherTrigger):
    """Cosmos's WatcherTrigger, started by the scheduler (its run comes from the task instance the
    triggerer gives it) and ending the task itself when the node succeeded or was skipped."""

    def __init__(self, model_unique_id: str, producer_task_id: str, dag_id: str = "", run_id: str = "",
                 map_index: int | None = -1, poke_interval: float = 2.0, is_test_sensor: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(model_unique_id=model_unique_id, producer_task_id=producer_task_id, dag_id=dag_id,
                         run_id=run_id, map_index=map_index, poke_interval=poke_interval,
                         is_test_sensor=is_test_sensor, **kwargs)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return TRIGGER, super().serialize()[1]

    async def run(self) -> AsyncIterator[TriggerEvent]:  # type: ignore[override]
        ti = self.task_instance
        if ti is not None:
            self.dag_id = self.dag_id or ti.dag_id
            self.run_id = self.run_id or ti.run_id
            self.map_index = ti.map_index
            if (ti.try_number or 1) > 1:  # a retry: the sensor runs the node's own dbt call on a worker
                yield TriggerEvent({"status": EventStatus.FAILED, "reason": WatcherEventReason.PRODUCER_SKIPPED})
                return
        # Cosmos's loop reads the producer's state, the node's status and its compiled SQL on every
        # poll (three API calls; ~100 triggers at once on this machine). The status alone is read
        # each poll; the producer's state every few polls, and then the status once more, so a node
        # reported just before the producer finished is not taken for one it never ran.
        polls = 0
        while True:
            status = await self._status()
            if status is None and polls % PRODUCER_EVERY == 0:
                producer = await self._get_producer_task_status()
                if producer in PRODUCER_FINAL_STATES:
                    status = await self._status()
                    if status is None:
                        yield self._producer_ended(producer)
                        return
            if is_dbt_node_status_success(status):
                yield TaskSuccessEvent()
                return
            if is_dbt_node_status_skipped(status):
                yield TaskSkippedEvent()
                return
            if is_dbt_node_status_failed(status):  # the sensor's execute_complete names the node; retries apply
                yield TriggerEvent({"status": EventStatus.FAILED, "reason": WatcherEventReason.NODE_FAILED})
                return
            polls += 1
            await asyncio.sleep(self.poke_interval)

    async def get_xcom_val(self, key: str) -> Any | None:
        """The producer's XCom through the triggerer's own async channel. Cosmos reads it with
        `sync_to_async`, on the one thread every trigger of the triggerer shares: with the night's
        sensors waiting side by side, each read queued behind all the others (seconds per link of
        the sensors' chain)."""
        from airflow.sdk.execution_time.xcom import XCom

        return await XCom.aget_one(run_id=self.run_id, key=key, task_id=self.producer_task_id,
                                   dag_id=self.dag_id, map_index=self.map_index)

    async def _status(self) -> str | None:
        if self.is_test_sensor:
            return await self.get_xcom_val(get_tests_status_xcom_key(self.model_unique_id))
        return await self._get_node_status()

    def _producer_ended(self, producer: str) -> TriggerEvent:
        """The build ended without a word about this node: as Cosmos's own trigger decides."""
        if producer == ProducerTaskState.SUCCESS:  # ephemeral, empty: nothing to build
            return TriggerEvent({"status": EventStatus.SUCCESS, "reason": WatcherEventReason.NODE_NOT_RUN})
        if producer == ProducerTaskState.SKIPPED:  # the build's retry: the sensor builds its node itself
            return TriggerEvent({"status": EventStatus.FAILED, "reason": WatcherEventReason.PRODUCER_SKIPPED})
        return TriggerEvent({"status": EventStatus.FAILED, "reason": WatcherEventReason.PRODUCER_FAILED})


def watch_from_triggerer(tasks: list[Any]) -> int:
    """Make every WATCHER sensor among `tasks` start in the triggerer; returns how many."""
    count = 0
    for task in tasks:
        if not isinstance(task, BaseConsumerSensor) or not getattr(task, "deferrable", False):
            continue
        task.start_from_trigger = True
        task.start_trigger_args = StartTriggerArgs(
            trigger_cls=TRIGGER,
            trigger_kwargs={
                "model_unique_id": task.model_unique_id,
                "producer_task_id": task.producer_task_id,
                "dag_id": task.dag_id,
                "poke_interval": float(task.poke_interval),
                "is_test_sensor": task.is_test_sensor,
            },
            next_method="execute_complete",
            next_kwargs=None,
            timeout=task.execution_timeout,
        )
        count += 1
    return count
