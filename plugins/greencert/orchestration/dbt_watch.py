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
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

# the triggerer's event types: Airflow core (the task SDK has no public name for them)
from airflow.triggers.base import StartTriggerArgs, TaskFailedEvent, TaskSuccessEvent, TriggerEvent
from cosmos.operators._watcher.aggregation import get_tests_status_xcom_key
from cosmos.operators._watcher.base import BaseConsumerSensor
from cosmos.operators._watcher.state import (
    PRODUCER_FINAL_STATES,
    ProducerTaskState,
    get_status_xcom_key,
    is_dbt_node_status_failed,
    is_dbt_node_status_skipped,
    is_dbt_node_status_success,
)
from cosmos.operators._watcher.triggerer import EventStatus, WatcherEventReason, WatcherTrigger

from greencert.notify import UPSTREAM_FAILED_KEY
from greencert.orchestration.dbt_in_process import STATUSES_KEY

TRIGGER = f"{__name__}.NodeTrigger"
# between two reads of the states of what a node reads, when it must wait for them: 1 s while one of
# them is at work, else twice as long each time up to 5 s (a retry waits 30 s and more; each read
# is a call to the api-server)
UPSTREAM_POLL_S = 1.0
UPSTREAM_POLL_MAX_S = 5.0
ACTIVE = {"queued", "running"}  # an upstream at work: read every UPSTREAM_POLL_S
# Cosmos's final states of the build's task, and the one its sensors never see under Cosmos's own
# graph (they wait for the build's upstream there): what the build follows failed
PRODUCER_ENDED: frozenset[str] = PRODUCER_FINAL_STATES | {"upstream_failed"}
# Airflow's finished states of a task instance, and the one a node may follow
DONE = {"success", "failed", "skipped", "upstream_failed", "removed"}


@dataclass
class Board:
    """One night's statuses as the triggerer last read them, shared by its triggers (they all run
    in the triggerer's one event loop): the build's statuses (one XCom, `STATUSES_KEY`) and its
    task's state, each read at most once per `every` seconds whatever the number of triggers."""

    every: float
    statuses: dict[str, Any] = field(default_factory=dict)
    producer: str | None = None
    read_at: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def read(
        self, statuses: Callable[[], Awaitable[Any]], producer: Callable[[], Awaitable[str | None]]
    ) -> Board:
        """The board, read again if older than `every`: the build's state first, so a build that
        has ended is read with every status it pushed (it pushes them all before it ends)."""
        asked = time.monotonic()
        async with self.lock:
            if self.read_at < asked - self.every:
                self.read_at = time.monotonic()
                self.producer = await producer()
                self.statuses = await statuses() or {}
        return self


_BOARDS: dict[tuple[str, str, str], Board] = {}
BOARD_IDLE_S = 3600.0  # a night's board is dropped an hour after it was last read


def board_for(dag_id: str, run_id: str, producer_task_id: str, every: float) -> Board:
    now = time.monotonic()
    for key in [k for k, b in _BOARDS.items() if b.read_at < now - BOARD_IDLE_S]:
        del _BOARDS[key]
    return _BOARDS.setdefault((dag_id, run_id, producer_task_id), Board(every=every))


class NodeTrigger(WatcherTrigger):
    """Cosmos's WatcherTrigger, started by the scheduler (its run comes from the task instance the
    triggerer gives it) and ending the task itself when the node succeeded or was skipped."""

    dag_id: str  # Cosmos's (untyped) WatcherTrigger sets them
    run_id: str

    def __init__(
        self,
        model_unique_id: str,
        producer_task_id: str,
        dag_id: str = "",
        run_id: str = "",
        map_index: int | None = -1,
        poke_interval: float = 2.0,
        is_test_sensor: bool = False,
        waits_for: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            model_unique_id=model_unique_id,
            producer_task_id=producer_task_id,
            dag_id=dag_id,
            run_id=run_id,
            map_index=map_index,
            poke_interval=poke_interval,
            is_test_sensor=is_test_sensor,
            **kwargs,
        )
        self.waits_for = sorted(waits_for or [])

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return TRIGGER, {**super().serialize()[1], "waits_for": self.waits_for}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        ti = self.task_instance
        if ti is not None:
            self.dag_id = self.dag_id or ti.dag_id
            self.run_id = self.run_id or ti.run_id
            self.map_index = ti.map_index
            if (ti.try_number or 1) > 1:  # a retry or a clear: the node's own dbt call, on a worker,
                # once what it reads has been built again
                yield await self._after_upstream(
                    TriggerEvent({"status": EventStatus.FAILED, "reason": WatcherEventReason.PRODUCER_SKIPPED})
                )
                return
        # Cosmos's loop reads the producer's state, the node's status and its compiled SQL on every
        # poll, per trigger (three API calls each; ~100 triggers from the night's start on this
        # machine). These read the night's board: two calls per poll for all of them.
        board = board_for(self.dag_id, self.run_id, self.producer_task_id, self.poke_interval)
        while True:
            await board.read(self._statuses, self._get_producer_task_status)
            status = self._status_on(board)
            if status is None and board.producer in PRODUCER_ENDED:  # and so every status it pushed is read
                ended = self._producer_ended(board.producer)
                yield ended if board.producer == ProducerTaskState.SUCCESS else await self._after_upstream(ended)
                return
            if is_dbt_node_status_success(status):
                yield TaskSuccessEvent()
                return
            if is_dbt_node_status_skipped(status):  # dbt skipped it: something it reads failed in the build
                yield await self._after_upstream(
                    TriggerEvent({"status": EventStatus.FAILED, "reason": WatcherEventReason.PRODUCER_SKIPPED})
                )
                return
            if is_dbt_node_status_failed(status):  # the sensor's execute_complete names the node; retries apply
                yield TriggerEvent({"status": EventStatus.FAILED, "reason": WatcherEventReason.NODE_FAILED})
                return
            await asyncio.sleep(self.poke_interval)

    async def get_xcom_val(self, key: str) -> Any | None:
        """The producer's XCom through the triggerer's own async channel. Cosmos reads it with
        `sync_to_async`, on the one thread every trigger of the triggerer shares: with the night's
        sensors waiting side by side, each read queued behind all the others (seconds per link of
        the sensors' chain)."""
        from airflow.sdk.execution_time.xcom import XCom

        return await XCom.aget_one(
            run_id=self.run_id, key=key, task_id=self.producer_task_id, dag_id=self.dag_id, map_index=self.map_index
        )

    async def _after_upstream(self, event: TriggerEvent) -> TriggerEvent:
        """`event` once every task this node reads (and their tests) has ended in success: the node
        may then be built on its own. If one of them did not, this node fails here, in the
        triggerer (no worker), with what failed in an XCom (the failure callback reads it and does
        not notify again what the failed task has notified).

        On its first try a node does not wait for a failed upstream's retry: it fails with it and
        so retries beside it (what depends on a failed model fails within one retry delay, not one
        per level), and on its retry it waits for the upstream's last word."""
        first_try = self.task_instance is None or (self.task_instance.try_number or 1) <= 1
        done = DONE | {"up_for_retry"} if first_try else DONE
        pause = UPSTREAM_POLL_S
        while True:
            states = await self._upstream_states()
            if all(state in done for state in states.values()):
                break
            # an upstream at work may end any moment (a chain of own dbt calls follows it link by
            # link); one waiting for its retry, or not started, has a while to go
            busy = any(state in ACTIVE for state in states.values())
            pause = UPSTREAM_POLL_S if busy else min(pause * 2, UPSTREAM_POLL_MAX_S)
            await asyncio.sleep(pause)
        failed = sorted(task for task, state in states.items() if state != "success")
        if not failed:
            return event
        self.log.info("%s: not built, because %s did not succeed", self.model_unique_id, ", ".join(failed))
        return TaskFailedEvent(xcoms={UPSTREAM_FAILED_KEY: list(failed)})

    async def _upstream_states(self) -> dict[str, str | None]:
        return await self._task_states(self.waits_for)

    async def _get_producer_task_status(self) -> str | None:
        """The build's task state (Cosmos reads it with `sync_to_async`, on the thread all triggers share)."""
        return (await self._task_states([self.producer_task_id]))[self.producer_task_id]

    async def _task_states(self, task_ids: list[str]) -> dict[str, str | None]:
        """The states of `task_ids` in this run, through the triggerer's channel to the api-server."""
        if not task_ids:
            return {}
        from airflow.sdk.execution_time import task_runner
        from airflow.sdk.execution_time.comms import GetTaskStates

        result = await task_runner.SUPERVISOR_COMMS.asend(
            GetTaskStates(dag_id=self.dag_id, task_ids=task_ids, run_ids=[self.run_id])
        )
        states = getattr(result, "task_states", {}).get(self.run_id, {})
        return {task: states.get(task) for task in task_ids}

    async def _statuses(self) -> Any:
        return await self.get_xcom_val(STATUSES_KEY)

    def _status_on(self, board: Board) -> str | None:
        """This node's status on the board: a model's tests' aggregate, or the node's own."""
        if self.is_test_sensor:
            return board.statuses.get(get_tests_status_xcom_key(self.model_unique_id))
        value = board.statuses.get(get_status_xcom_key(self.model_unique_id))
        return value.get("status") if isinstance(value, dict) else value

    def _producer_ended(self, producer: str) -> TriggerEvent:
        """The build ended without a word about this node: as Cosmos's own trigger decides."""
        if producer == ProducerTaskState.SUCCESS:  # ephemeral, empty: nothing to build
            return TriggerEvent({"status": EventStatus.SUCCESS, "reason": WatcherEventReason.NODE_NOT_RUN})
        if producer == ProducerTaskState.SKIPPED:  # the build's retry: the sensor builds its node itself
            return TriggerEvent({"status": EventStatus.FAILED, "reason": WatcherEventReason.PRODUCER_SKIPPED})
        return TriggerEvent({"status": EventStatus.FAILED, "reason": WatcherEventReason.PRODUCER_FAILED})


def is_test_sensor(task: Any) -> bool:
    """Cosmos's sensor of a model's tests (`<model>.test`) or of a test spanning models (`<test>_test`)."""
    return bool(getattr(task, "is_test_sensor", False)) or task.task_id.endswith((".test", "_test"))


def waits_for(task: Any, tasks: dict[str, Any]) -> list[str]:
    """What a node's sensor follows once the build did not build its node: its upstream tasks and,
    for a model, those tasks' own tests (dbt's build skips what a failed test feeds). A test
    spanning models is not followed: it may follow this node itself."""
    upstream = set(task.upstream_task_ids)
    if not is_test_sensor(task):
        upstream |= {
            down
            for up in task.upstream_task_ids
            if up in tasks
            for down in tasks[up].downstream_task_ids
            if down in tasks and is_test_sensor(tasks[down]) and tasks[down].upstream_task_ids == {up}
        }
    return sorted(upstream)


def watch_from_triggerer(tasks: list[Any]) -> int:
    """Make every WATCHER sensor among `tasks` start in the triggerer, as the night starts; returns how many.

    A sensor does not wait for its upstream sensors to end (trigger rule `always`: the edges show
    dbt's order, the build keeps it): each one turns green as the build reports its node, and the
    night ends at the build's pace, not at a scheduler round and two triggerer loops (~3 s) per
    link of the models' chain. What a node reads is waited for where it matters, by the trigger:
    a node the build did not build (dbt skipped it, the build failed, a retry or a clear) is built
    on its own only after what it reads succeeded, and fails otherwise."""
    from airflow.sdk import TriggerRule

    by_id = {t.task_id: t for t in tasks}
    count = 0
    for task in tasks:
        if not isinstance(task, BaseConsumerSensor) or not getattr(task, "deferrable", False):
            continue
        task.trigger_rule = TriggerRule.ALWAYS
        task.start_from_trigger = True
        task.start_trigger_args = StartTriggerArgs(
            trigger_cls=TRIGGER,
            trigger_kwargs={
                "model_unique_id": task.model_unique_id,
                "producer_task_id": task.producer_task_id,
                "dag_id": task.dag_id,
                "poke_interval": float(task.poke_interval),
                "is_test_sensor": task.is_test_sensor,
                "waits_for": waits_for(task, by_id),
            },
            next_method="execute_complete",
            next_kwargs=None,
            timeout=task.execution_timeout,
        )
        count += 1
    return count
