"""What the processes that fork Airflow tasks import before forking (plugins/airflow_local_settings.py)."""

from __future__ import annotations

import importlib
import logging
import time

log = logging.getLogger(__name__)

# the libraries the tasks use, heaviest first; each costs seconds of CPU to import
MODULES = (
    "great_expectations",  # the raw and mart gates
    "dbt.cli.main",  # Cosmos runs dbt in-process (InvocationMode.DBT_RUNNER)
    "dbt.adapters.postgres",
    "dbt.parser.manifest",
    "cosmos.operators.local",
    "greencert.quality.gx_run",
    "greencert.load.copy_batch",
    "greencert.publish.swap",
    "greencert.report.write",  # matplotlib, openpyxl
)


def preload() -> None:
    started = time.monotonic()
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # a task that needs it will say why; never stop the scheduler over it
            log.exception("greencert: could not preload %s", name)
    log.info("greencert: preloaded %d modules for forked tasks in %.1f s", len(MODULES), time.monotonic() - started)
