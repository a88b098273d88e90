"""Airflow's local-settings hook: every Airflow process imports it (plugins/ is on its sys.path).

The processes that start tasks — the scheduler (LocalExecutor: its workers fork each task) and a
Celery worker (its pool forks them) — import dbt, Cosmos and GX once here, so a task forked from
them starts with those libraries already loaded instead of importing them again (seconds each, in
every task). The DAG processor, which forks a child for every parse of a file (and parses the
nightly's file again for each batch of task callbacks, about once per finished sensor), imports
what parsing needs. Other processes (api-server, triggerer, CLI) are left as they are.
"""

import sys

__all__: list[str] = []  # no cluster policies here: Airflow reads policy functions from this module

if len(sys.argv) > 1 and sys.argv[0].endswith("airflow") and sys.argv[1] in ("scheduler", "celery"):
    from greencert.orchestration.preload import preload

    preload()
elif len(sys.argv) > 1 and sys.argv[0].endswith("airflow") and sys.argv[1] == "dag-processor":
    from greencert.orchestration.preload import PARSE_MODULES, preload

    preload(PARSE_MODULES)
