"""What the processes that fork Airflow's work import before forking (plugins/airflow_local_settings.py)."""

from __future__ import annotations

import importlib
import logging
import time

log = logging.getLogger(__name__)

# what parsing the DAG files imports (the nightly: Cosmos and its Airflow 3 plugin, the SDK's parts):
# the DAG processor forks a child per parse, and every task re-parses its DAG file as it starts
PARSE_MODULES = (
    "cosmos",
    "cosmos.plugin.airflow3",  # FastAPI: a quarter of a second
    "cosmos.converter",
    "cosmos.operators.watcher",
    "airflow.sdk.definitions.decorators.setup_teardown",
    "airflow.sdk.definitions.timetables._cron",
    "greencert.orchestration.dbt_watch",
    "greencert.orchestration.nightly",
    "greencert.orchestration.ingest",
)
# the libraries the tasks use, heaviest first; each costs seconds of CPU to import
TASK_MODULES = (
    "great_expectations",  # the raw and mart gates
    "dbt.cli.main",  # Cosmos runs dbt in-process (InvocationMode.DBT_RUNNER)
    "dbt.adapters.postgres",
    "dbt.parser.manifest",
    "cosmos.operators.local",
    "greencert.quality.gx_run",
    "greencert.quality.raw_gate",  # the row rules and the raw suite: a sixth of a second a validate task
    "greencert.load.copy_batch",
    "greencert.publish.swap",
    "greencert.report.write",  # matplotlib, openpyxl
)
MODULES = PARSE_MODULES + TASK_MODULES


def preload(modules: tuple[str, ...] = MODULES) -> None:
    started = time.monotonic()
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # a task that needs it will say why; never stop the scheduler over it
            log.exception("greencert: could not preload %s", name)
    log.info("greencert: preloaded %d modules for forked work in %.1f s", len(modules), time.monotonic() - started)
