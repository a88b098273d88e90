"""Notifications: what the DAGs tell people (a task failed, the nightly published, the nightly is late).

- `message`: the texts, built from plain values (no Airflow needed to test them).
- `channels`: e-mail through Airflow's SMTP provider (connection `greencert_smtp`) and a
  DingTalk/WeCom-style webhook (HTTP connection `greencert_webhook`); a channel whose connection
  does not exist is skipped, and a channel that fails is logged, never raised.
- `callbacks`: the Airflow callbacks the DAGs register; they import Airflow lazily, so importing
  this package costs a DAG file nothing.
"""

SMTP_CONN = "greencert_smtp"
WEBHOOK_CONN = "greencert_webhook"
# the XCom of a night's dbt sensor that failed because what its node reads did not succeed (not its
# own failure: orchestration/dbt_watch.py): those tasks have been notified on, so callbacks.task_failed
# does not notify again
UPSTREAM_FAILED_KEY = "greencert_upstream_failed"
