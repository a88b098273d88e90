"""Airflow's local-settings hook: every Airflow process imports it (plugins/ is on its sys.path).

The processes that start tasks — the scheduler (LocalExecutor: its workers fork each task) and a
Celery worker (its pool forks them) — import dbt, Cosmos and GX once here, so a task forked from
them starts with those libraries already loaded instead of importing them again (seconds each, in
every task). Other processes (api-server, DAG processor, CLI) are left as they are.
"""

import sys

__all__: list[str] = []  # no cluster policies here: Airflow reads policy functions from this module

if len(sys.argv) > 1 and sys.argv[0].endswith("airflow") and sys.argv[1] in ("scheduler", "celery"):
    from greencert.orchestration.preload import preload

    preload()
