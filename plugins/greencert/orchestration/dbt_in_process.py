"""Make dbt cheap inside an Airflow task (Cosmos runs it in-process: the night's one `dbt build`, in
the WATCHER producer, and a model's own dbt call when its sensor is retried).

Three costs: parsing the project, dbt-common's flag lookup, and the producer's XCom traffic.

`warm_partial_parse` parses the project once, before the night's dbt tasks start, with their own
profile, into Cosmos's cache: every dbt task then finds a partial-parse state that matches it
(otherwise the first tasks to start, side by side, each re-parse the whole project).

dbt-common names the module that declared each adapter behaviour flag with `inspect.stack()`, and
evaluates it even when the flag names its source. In a process that has imported Airflow,
`inspect.getmodule` scans thousands of modules per frame (CPython issue 92041): about 1 s per dbt
call, most of a model's task. This walks the frames directly and returns the same module name.

Cosmos's WATCHER producer pushes every dbt node's event to XCom four times (start, compiling,
executing, finished: each an HTTP call to the api-server, under one lock, inside dbt's worker
threads, so dbt waits for it); the sensors read only the last one. Only the finish and the error
events are pushed.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any


def _calling_module() -> str:
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name and name != "dbt_common.behavior_flags":
            return name
        frame = frame.f_back
    return "Unknown"


def speed_up_dbt(context: Any = None) -> None:
    """A task pre_execute hook: install the fast lookup, push only the final events (idempotent)."""
    from cosmos.operators._watcher import base
    from dbt_common import behavior_flags

    behavior_flags.BehaviorFlagRendered._default_source = staticmethod(_calling_module)  # type: ignore[method-assign]
    base._DBT_EVENT_ALLOWLIST = base._DBT_ERROR_EVENTS_TYPES | frozenset({"NodeFinished"})


def warm_partial_parse(env: dict[str, str], cache_key: str, profile: str = "greencert",
                       target: str = "transformer") -> Path:
    """`dbt parse` with the dbt tasks' profile and env into a scratch folder (starting from the
    cached state, so an unchanged project parses in a moment), then atomically into Cosmos's cache
    for the task group `cache_key` ("<dag_id>__<group_id>"), where its dbt tasks look first."""
    from cosmos import cache

    from greencert import runtime

    cache_dir = cache._obtain_cache_dir_path(cache_key)
    cached = cache.get_partial_parse_path(cache_dir)
    with tempfile.TemporaryDirectory(prefix="greencert-parse-") as tmp:
        target_path = Path(tmp) / "target"
        target_path.mkdir()
        if cached.exists():
            shutil.copy2(cached, target_path / cached.name)
        runtime.dbt(["parse", "--quiet", "--profile", profile, "--target", target,
                     "--target-path", str(target_path), "--log-path", str(Path(tmp) / "logs")], env)
        cache._update_partial_parse_cache(target_path / cached.name, cache_dir)
    return cached
