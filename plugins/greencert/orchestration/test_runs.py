"""Run several DAGs for one date in ONE Airflow process, the way `airflow dags test` runs one.

`airflow dags test` pays Airflow's start-up and a DAG-folder parse for every DAG (several seconds
each, most of an ingest run). The demo and the end-to-end test run a dozen DAGs a day, so they use
this instead: the bundle is parsed and serialized to the metadata DB once, then each DAG runs
through the same `DAG.test()` the CLI calls, in order. A failed run does not stop the others (one
feed's bad file must not hold back the rest, nor the nightly); the exit status says which failed.

Usage (inside `runtime.airflow_env`): python -m greencert.orchestration.test_runs DATE CONF DAG_ID...
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, date, datetime
from typing import Any


def without_deadline(dag: Any) -> Any:
    """The DAG for DAG.test(), without its deadline alert.

    Airflow 3.3's DAG.test() of a DAG with a deadline ends in an error once the run has succeeded
    (apache/airflow#73428: its in-memory scheduler DAG holds the encoded alerts where
    DagRun.update_state looks up deadline_alert ids). DAG.test() runs no scheduler or triggerer, so
    no deadline could fire here anyway.
    """
    dag.deadline = None
    return dag


def load_dags() -> dict[str, Any]:
    """Every DAG of the configured bundles, parsed once and serialized to the metadata DB."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    dags: dict[str, Any] = {}
    for bundle in manager.get_all_dag_bundles():
        bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
        if bag.import_errors:
            raise SystemExit(f"DAG import errors: {bag.import_errors}")
        sync_bag_to_db(bag, bundle.name, bundle.version)  # Airflow ≥ 3.1 runs only serialized DAGs
        dags.update(bag.dags)
    return dags


def run(dag_ids: list[str], logical_date: date, conf: dict[str, str]) -> None:
    from airflow.utils.state import DagRunState

    dags = load_dags()
    when = datetime.combine(logical_date, datetime.min.time(), tzinfo=UTC)  # as the CLI reads a bare date
    failed = []
    for dag_id in dag_ids:
        started = time.monotonic()
        run_ = without_deadline(dags[dag_id]).test(logical_date=when, run_conf=conf)
        print(f"==> {dag_id} {logical_date}: {run_.state} in {time.monotonic() - started:.1f}s", flush=True)
        if run_.state != DagRunState.SUCCESS:
            failed.append(dag_id)
    if failed:
        raise SystemExit(f"DagRun failed: {', '.join(failed)} {logical_date}")


if __name__ == "__main__":
    day, conf, *ids = sys.argv[1:]
    run(ids, date.fromisoformat(day), json.loads(conf))
