"""What every greencert DAG shares: owner, retries and the failure callback.

(The connections the tasks read are greencert.connections; the run's snapshot date is
greencert.snapshot_date.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from greencert.notify.callbacks import task_failed

OWNER = "greencert-data"
# Every task of the greencert DAGs runs once more after a failure: a Celery worker killed mid-task
# (kill -9, a lost machine) leaves its task without heartbeats, which the scheduler fails after
# `[scheduler] task_instance_heartbeat_timeout` and retries. Each task is safe to run twice: landing
# is by content hash, a batch loads none-or-all, dbt rebuilds its model in the night's own build
# schema, the publish is one idempotent transaction. (The audit's refusal is final:
# AirflowFailException, no retry.)
RETRIES = 1


def default_args(retries: int = 0) -> dict[str, Any]:
    return {
        "owner": OWNER,
        "retries": retries,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "on_failure_callback": task_failed,  # logs it once, notifies by e-mail and webhook
    }
