"""Make dbt cheap inside an Airflow task (Cosmos runs it in-process: the night's one `dbt build`, in
the WATCHER producer, and a model's own dbt call when its sensor is retried).

Three costs: parsing the project, dbt-common's flag lookup, and the producer's XCom traffic.

`warm_partial_parse` parses the project once, before the night's dbt tasks start, with their own
profile, into Cosmos's cache (in the task's own process: dbt is preloaded there): the build, and a
sensor's own dbt call on a retry, then find a partial-parse state that matches them.

dbt-common names the module that declared each adapter behaviour flag with `inspect.stack()`, and
evaluates it even when the flag names its source. In a process that has imported Airflow,
`inspect.getmodule` scans thousands of modules per frame (CPython issue 92041): about 1 s per dbt
call, most of a model's task. This walks the frames directly and returns the same module name.

Cosmos's WATCHER producer pushes every dbt node's event to XCom four times (start, compiling,
executing, finished), and each model's compiled SQL, beside its status: each an HTTP call to the
api-server, under one lock, inside dbt's worker threads, so dbt waits for it. The night's triggers
read only the status; a sensor that resumes on a worker (a failure) reads the node's last event.
So only the statuses, the error events and the finish of a node that did not succeed are pushed,
and by a thread of their own: dbt goes on while they are sent. Every node's status is also pushed
together, in one XCom (`STATUSES_KEY`), each time the thread has sent what was queued: the night's
triggers, ~100 at once from the night's start, read that one value between them.
"""

from __future__ import annotations

import os
import queue
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any


def _calling_module() -> str:
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name and name != "dbt_common.behavior_flags":
            return name
        frame = frame.f_back
    return "Unknown"


STATUSES_KEY = "greencert_node_statuses"  # {Cosmos's status key of a node: its value}, all nodes so far
_QUIET = frozenset({"success", "pass"})  # a node that ended so needs no event of its own in XCom


def _no_event_for_a_success(push: Any) -> Any:
    """Cosmos's per-node event push, skipped for a node that succeeded (its sensor ends in the
    triggerer, which reads only the node's status; the event is read by the sensor's
    execute_complete, which runs for a failure or a retry only)."""
    if getattr(push, "greencert_quiet", False):
        return push

    def quiet_push(task_instance: Any, dbt_log: dict[str, Any]) -> None:
        node = (dbt_log.get("data") or {}).get("node_info") or {}
        if (dbt_log.get("info") or {}).get("name") == "NodeFinished" and node.get("node_status") in _QUIET:
            return None
        return push(task_instance, dbt_log)

    quiet_push.greencert_quiet = True  # type: ignore[attr-defined]
    return quiet_push


def _no_compiled_sql(*args: Any, **kwargs: Any) -> None:
    """The compiled SQL Cosmos pushes per model is read only by its own WatcherTrigger (to show in
    the sensor's rendered fields); the night's triggers (orchestration/dbt_watch.py) do not."""


class BackgroundPushes:
    """The build's per-node XCom pushes, sent in order by a thread of their own, so dbt's threads
    do not wait for the api-server; drained (and any push's error raised) before the build's task
    pushes its own end, which both of Cosmos's ends of the build do (done or failed)."""

    def __init__(self, push: Any) -> None:
        self._push = push
        self._queue: queue.SimpleQueue[tuple[Any, str, Any] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._statuses: dict[str, Any] = {}
        self._unsent: Any = None  # the task instance whose statuses changed since they were last sent

    def submit(self, task_instance: Any, key: str, value: Any) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._send, name="greencert-xcom-pushes", daemon=True)
                self._thread.start()
        self._queue.put((task_instance, key, value))

    def _send(self) -> None:
        while (item := self._queue.get()) is not None:
            task_instance, key, value = item
            self._safely(task_instance, key, value)
            if key.endswith("_status"):  # a node's status, or a model's tests' (Cosmos's keys)
                self._statuses[key], self._unsent = value, task_instance
            if self._queue.empty():
                self._send_statuses()
        self._send_statuses()

    def _send_statuses(self) -> None:
        if self._unsent is not None:
            task_instance, self._unsent = self._unsent, None
            self._safely(task_instance, STATUSES_KEY, dict(self._statuses))

    def _safely(self, task_instance: Any, key: str, value: Any) -> None:
        try:
            self._push(task_instance=task_instance, key=key, value=value)
        except BaseException as exc:  # raised by drain(), in the task's own thread
            self._error = self._error or exc

    def drain(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()
        self._statuses = {}  # one build's
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def speed_up_dbt(context: Any = None) -> None:
    """A task pre_execute hook: install the fast lookup, push only what the sensors read, off dbt's
    threads (idempotent)."""
    from cosmos.operators import watcher
    from cosmos.operators._watcher import aggregation, base
    from dbt_common import behavior_flags

    behavior_flags.BehaviorFlagRendered._default_source = staticmethod(_calling_module)  # type: ignore[method-assign]
    base._DBT_EVENT_ALLOWLIST = base._DBT_ERROR_EVENTS_TYPES | frozenset({"NodeFinished"})
    base._process_dbt_log_event = _no_event_for_a_success(base._process_dbt_log_event)
    base.store_compiled_sql_for_model = _no_compiled_sql
    base.safe_xcom_push = aggregation.safe_xcom_push = pushes().submit  # the nodes' statuses and events
    watcher.safe_xcom_push = _drained_then_pushed  # the build's own start and end


_PUSHES: list[BackgroundPushes] = []


def pushes() -> BackgroundPushes:
    """This process's one queue of pushes."""
    if not _PUSHES:
        from cosmos.operators._watcher import state

        _PUSHES.append(BackgroundPushes(state.safe_xcom_push))
    return _PUSHES[0]


def _drained_then_pushed(task_instance: Any, key: str, value: Any) -> None:
    from cosmos.operators._watcher import state

    pushes().drain()
    state.safe_xcom_push(task_instance=task_instance, key=key, value=value)


def _dbt_in_this_process(args: list[str], env: dict[str, str]) -> None:
    """dbt in this task's process (dbt is preloaded where tasks fork: no second interpreter and
    import of dbt, seconds of CPU), with `env` as the environment its profile reads."""
    from dbt.cli.main import dbtRunner

    speed_up_dbt()
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        result = dbtRunner().invoke(args)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if not result.success:
        raise RuntimeError(f"dbt {' '.join(args[:1])} failed: {result.exception}")


def warm_partial_parse(
    env: dict[str, str], cache_key: str, profile: str = "greencert", target: str = "transformer"
) -> Path:
    """`dbt parse` with the dbt tasks' profile and env into a scratch folder (starting from the
    cached state, so an unchanged project parses in a moment), then atomically into Cosmos's cache
    for the task group `cache_key` ("<dag_id>__<group_id>"), where its dbt tasks look first."""
    from cosmos import cache

    from greencert import settings

    cache_dir = cache._obtain_cache_dir_path(cache_key)
    cached = cache.get_partial_parse_path(cache_dir)
    with tempfile.TemporaryDirectory(prefix="greencert-parse-") as tmp:
        target_path = Path(tmp) / "target"
        target_path.mkdir()
        if cached.exists():
            shutil.copy2(cached, target_path / cached.name)
        _dbt_in_this_process(
            [
                "parse",
                "--quiet",
                "--profile",
                profile,
                "--target",
                target,
                "--project-dir",
                str(settings.DBT_PROJECT_DIR),
                "--profiles-dir",
                str(settings.DBT_PROJECT_DIR),
                "--target-path",
                str(target_path),
                "--log-path",
                str(Path(tmp) / "logs"),
            ],
            env,
        )
        cache._update_partial_parse_cache(target_path / cached.name, cache_dir)
    return cached
