"""Airflow DAGs: one ingest DAG per feed of the registry (plugins/greencert/feeds/registry.yml)."""

from greencert.feeds import registry
from greencert.orchestration import ingest

for _feed in registry().values():
    globals()[ingest.dag_id(_feed)] = ingest.build(_feed)
