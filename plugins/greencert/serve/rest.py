"""A small client of Airflow 3's REST API (/api/v2): how a person or a script drives a running
Airflow — log in, unpause, trigger a run, watch it — and how the tests and the demo do it too."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import httpx

FINISHED = ("success", "failed")


class AirflowUnavailable(RuntimeError):
    pass


@dataclass
class AirflowREST:
    base_url: str
    username: str
    password: str
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._token: str | None = None
        self._http = httpx.Client(timeout=self.timeout_s)

    def close(self) -> None:
        self._http.close()

    def token(self) -> str:
        """A JWT from the auth manager's login endpoint (SimpleAuthManager: POST /auth/token)."""
        if self._token is None:
            r = self._http.post(
                f"{self.base_url}/auth/token", json={"username": self.username, "password": self.password}
            )
            if r.status_code >= 400:
                raise AirflowUnavailable(
                    f"login to {self.base_url} as {self.username} failed: HTTP {r.status_code} {r.text[:200]}"
                )
            self._token = str(r.json()["access_token"])
        return self._token

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        for attempt in (1, 2):
            r = self._http.request(
                method, f"{self.base_url}/api/v2{path}", headers={"Authorization": f"Bearer {self.token()}"}, **kwargs
            )
            if r.status_code == 401 and attempt == 1:  # the token expired: log in again once
                self._token = None
                continue
            if r.status_code >= 400:
                raise RuntimeError(f"{method} {path}: HTTP {r.status_code} {r.text[:500]}")
            return r.json() if r.content else None
        raise AssertionError("unreachable")

    def health(self) -> dict[str, Any]:
        """The components' health (metadata DB, scheduler, triggerer, DAG processor); no login needed."""
        r = self._http.get(f"{self.base_url}/api/v2/monitor/health")
        r.raise_for_status()
        return dict(r.json())

    def dag_ids(self) -> list[str]:
        return [d["dag_id"] for d in self._call("GET", "/dags", params={"limit": 1000})["dags"]]

    def import_errors(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/importErrors")["import_errors"])

    def is_paused(self, dag_id: str) -> bool:
        return bool(self._call("GET", f"/dags/{dag_id}")["is_paused"])

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self._call("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def unpause(self, dag_id: str) -> None:
        self.set_paused(dag_id, False)

    def trigger(
        self, dag_id: str, logical_date: date | datetime, conf: dict[str, Any] | None = None, run_id: str | None = None
    ) -> str:
        """A manual run for that logical date (a bare date = its midnight UTC, as the CLI reads one)."""
        when = (
            logical_date
            if isinstance(logical_date, datetime)
            else datetime.combine(logical_date, datetime.min.time(), tzinfo=UTC)
        )
        body: dict[str, Any] = {"logical_date": when.isoformat(), "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        return str(self._call("POST", f"/dags/{dag_id}/dagRuns", json=body)["dag_run_id"])

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"))

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 1000})["dag_runs"])

    def task_instances(self, dag_id: str, run_id: str, attempts: int = 5) -> list[dict[str, Any]]:
        """Every task instance of the run, once each. The API pages by 100 and a running night has
        more (the nightly: 104): a task whose state changes between two pages can move from one page
        to the other and be listed twice or not at all, so the listing is read again until it holds
        `total_entries` distinct tasks (at most `attempts` times)."""
        path = f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        for _ in range(attempts):
            seen: dict[tuple[str, int], dict[str, Any]] = {}
            offset, total = 0, 0
            while True:
                page = self._call("GET", path, params={"limit": 100, "offset": offset, "order_by": "id"})
                total = page["total_entries"]
                for ti in page["task_instances"]:
                    seen[(ti["task_id"], ti.get("map_index", -1))] = ti
                offset += len(page["task_instances"])
                if offset >= total or not page["task_instances"]:
                    break
            if len(seen) == total:
                return list(seen.values())
        raise RuntimeError(
            f"{dag_id} run {run_id}: no consistent list of its {total} task instances in {attempts} reads"
        )

    def wait(self, dag_id: str, run_id: str, timeout_s: float = 1800, poll_s: float = 1.0) -> str:
        """Block until the run has finished; its final state."""
        deadline = time.monotonic() + timeout_s
        while True:
            state = str(self.run(dag_id, run_id)["state"])
            if state in FINISHED:
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} run {run_id} still {state} after {timeout_s:.0f} s")
            time.sleep(poll_s)
