"""What the night's build pushes to XCom (greencert.orchestration.dbt_in_process.speed_up_dbt),
through Cosmos's own parser of dbt's events: every node's status, the events of a node that did
not succeed, and nothing the night's triggers do not read. The task instance records the pushes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cosmos.operators import watcher
from cosmos.operators._watcher import aggregation, base

from greencert.orchestration.dbt_in_process import STATUSES_KEY, pushes, speed_up_dbt

MODEL = "model.greencert.fct_t06_ems_certificates"


class Pushes:
    """A task instance's XCom pushes: `keys` in order, but the statuses pushed together, which are
    in `boards` (each value pushed)."""

    def __init__(self, fail_on: str = "") -> None:
        self.keys: list[str] = []
        self.boards: list[dict[str, Any]] = []
        self.fail_on = fail_on

    def xcom_push(self, key: str, value: Any) -> None:
        if key == self.fail_on:
            raise ConnectionError("api-server unreachable")
        if key == STATUSES_KEY:
            self.boards.append(value)
        else:
            self.keys.append(key)


def finished(status: str, tmp: Path, ti: Pushes | None = None) -> list[str]:
    compiled = tmp / "target" / "compiled" / "greencert" / "models" / "marts" / "fct_t06.sql"
    compiled.parent.mkdir(parents=True, exist_ok=True)
    compiled.write_text("select 1")
    ti = ti or Pushes()
    line = {
        "info": {"name": "NodeFinished", "msg": "done"},
        "data": {
            "node_info": {
                "unique_id": MODEL,
                "node_status": status,
                "resource_type": "model",
                "node_path": "marts/fct_t06.sql",
            },
            "run_result": {"message": "x"},
        },
    }
    base.store_dbt_resource_status_from_log(
        json.dumps(line), {"context": {"ti": ti}, "project_dir": str(tmp)}, should_generate_model_uris=False
    )
    pushes().drain()
    return ti.keys


@pytest.fixture(autouse=True)
def _restore(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("_process_dbt_log_event", "store_compiled_sql_for_model", "_DBT_EVENT_ALLOWLIST", "safe_xcom_push"):
        monkeypatch.setattr(base, name, getattr(base, name))
    for module in (aggregation, watcher):
        monkeypatch.setattr(module, "safe_xcom_push", module.safe_xcom_push)


def test_cosmos_alone_pushes_the_event_the_status_and_the_compiled_sql(tmp_path: Path) -> None:
    # the baseline the hook changes: if Cosmos changes these names, this says so first
    assert finished("success", tmp_path) == [
        "model__greencert__fct_t06_ems_certificates_dbt_event",
        "model__greencert__fct_t06_ems_certificates_status",
        "model__greencert__fct_t06_ems_certificates_compiled_sql",
    ]


def test_a_node_that_succeeded_pushes_its_status_only(tmp_path: Path) -> None:
    speed_up_dbt()
    speed_up_dbt()  # idempotent: every dbt task's pre_execute calls it
    ti = Pushes()
    assert finished("success", tmp_path, ti) == ["model__greencert__fct_t06_ems_certificates_status"]
    [board] = ti.boards  # and the statuses together, which the night's triggers read
    assert board["model__greencert__fct_t06_ems_certificates_status"]["status"] == "success"


def test_a_node_that_failed_pushes_its_event_for_the_sensor_to_log(tmp_path: Path) -> None:
    speed_up_dbt()
    assert finished("error", tmp_path) == [
        "model__greencert__fct_t06_ems_certificates_dbt_event",
        "model__greencert__fct_t06_ems_certificates_status",
    ]


def test_the_builds_end_is_pushed_after_every_node_it_reported(tmp_path: Path) -> None:
    """The nodes' pushes leave dbt's threads for a thread of their own; the build's own end (Cosmos's
    `task_status`, pushed whether dbt succeeded or failed) waits for all of them, so a sensor that
    sees the build ended sees every status it pushed."""
    speed_up_dbt()
    ti = Pushes()
    for i in range(50):
        base.safe_xcom_push(task_instance=ti, key=f"node{i}_status", value={"status": "success"})
    watcher.safe_xcom_push(task_instance=ti, key="task_status", value="completed")
    assert ti.keys == [f"node{i}_status" for i in range(50)] + ["task_status"]
    assert ti.boards and ti.boards[-1] == {f"node{i}_status": {"status": "success"} for i in range(50)}
    assert len(ti.boards) <= 50  # one push per burst of statuses, not one per status


def test_a_push_that_failed_fails_the_build_when_it_ends(tmp_path: Path) -> None:
    speed_up_dbt()
    ti = Pushes(fail_on="node1_status")
    for i in range(3):
        base.safe_xcom_push(task_instance=ti, key=f"node{i}_status", value={"status": "success"})
    with pytest.raises(ConnectionError, match="api-server unreachable"):
        watcher.safe_xcom_push(task_instance=ti, key="task_status", value="completed")
    assert ti.keys == ["node0_status", "node2_status"]
