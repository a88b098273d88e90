"""Airflow DAG greencert_nightly: build, audit and publish the target-progress marts (Asia/Shanghai)."""

from greencert.orchestration import nightly

dag = nightly.build()
