"""One run of a feed's ingest DAG, its real task code (land → load → validate, as
orchestration/ingest.py defines them) called in this process: the Airflow connections, the as-of
date, the drop folder and the landing folder pointed at the test's."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from greencert.extract.http import RetryPolicy
from greencert.feeds import Feed

FAST = RetryPolicy(attempts=2, backoff_s=0.01, timeout_s=2)


@dataclass
class Run:
    landed: dict[str, Any]
    loaded: dict[str, Any]
    validated: list[dict[str, Any]] | None
    failure: Exception | None  # what `validate` raised: the run's failure, with its message


def run_ingest(
    feed: Feed,
    urls: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    dropbox: Path,
    landing: Path,
    day: date,
    api_base: str = "http://127.0.0.1:9",
) -> Run:
    from airflow.sdk.exceptions import AirflowFailException

    from greencert.extract import files, http
    from greencert.orchestration import ingest

    monkeypatch.setattr(ingest, "conninfo", lambda conn_id: urls["loader"])
    monkeypatch.setattr(ingest, "as_of", lambda context: day)
    monkeypatch.setattr(ingest, "http_base", lambda conn_id: api_base)
    monkeypatch.setattr(
        files, "take_drop_folder", functools.partial(files.take_drop_folder, dropbox=dropbox, landing=landing)
    )
    monkeypatch.setattr(http, "land_from_api", functools.partial(http.land_from_api, landing=landing, policy=FAST))
    dag = ingest.build(feed)
    landed = dag.get_task("land").python_callable()
    loaded = dag.get_task("load").python_callable(landed)
    try:
        return Run(landed, loaded, dag.get_task("validate").python_callable(loaded, run_id="reliability"), None)
    except AirflowFailException as exc:
        return Run(landed, loaded, None, exc)
    finally:
        monkeypatch.undo()
