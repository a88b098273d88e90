"""Make dbt cheap to start inside an Airflow task (Cosmos runs it in-process, one call per model).

dbt-common names the module that declared each adapter behaviour flag with `inspect.stack()`, and
evaluates it even when the flag names its source. In a process that has imported Airflow,
`inspect.getmodule` scans thousands of modules per frame (CPython issue 92041): about 1 s per dbt
call, most of a model's task. This walks the frames directly and returns the same module name.
"""

from __future__ import annotations

import sys
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
    """A task pre_execute hook: install the fast lookup (idempotent)."""
    from dbt_common import behavior_flags

    behavior_flags.BehaviorFlagRendered._default_source = staticmethod(_calling_module)  # type: ignore[method-assign]
