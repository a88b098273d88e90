"""A day as the scheduler runs it, triggered through the REST API: every feed's ingest DAG side by
side (as their 23:00 schedules start them), then the nightly. Used by the demo, the end-to-end
test and the nightly benchmark; a person does the same from the UI's Trigger button."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from greencert import feeds
from greencert.orchestration import ingest, nightly
from greencert.serve.rest import AirflowREST


@dataclass(frozen=True)
class Finished:
    dag_id: str
    run_id: str
    state: str
    seconds: float


def run_id_for(dag_id: str, day: date) -> str:
    """A run id of our own per trigger (a rerun of the same date is a new run)."""
    return f"greencert__{day.isoformat()}__{datetime.now():%Y%m%dT%H%M%S%f}"


def trigger_and_wait(
    client: AirflowREST,
    dag_ids: list[str],
    day: date,
    timeout_s: float = 1800,
    on_done: Callable[[Finished], None] | None = None,
    logical_date: datetime | None = None,
) -> list[Finished]:
    """Trigger the DAGs at once for `day` (conf as_of_date), wait for all; in the order they ended.
    A paused DAG is unpaused for its run (the scheduler runs no run of a paused DAG) and paused again
    once it has ended, so its schedule does not start behind the user's back."""
    started = time.monotonic()
    pending: dict[str, str] = {}
    paused = {dag_id for dag_id in dag_ids if client.is_paused(dag_id)}
    for dag_id in dag_ids:
        if dag_id in paused:
            client.unpause(dag_id)
        # logical date now, as the UI's Trigger button sets it; the snapshot date is the conf's. (A
        # logical date of the snapshot's own midnight would make the UI draw the run as a bar from
        # that day to now, and the run would be created after its own deadline.)
        pending[dag_id] = client.trigger(
            dag_id, logical_date or datetime.now(UTC), {"as_of_date": day.isoformat()}, run_id=run_id_for(dag_id, day)
        )
    done: list[Finished] = []
    deadline = started + timeout_s
    while pending:
        for dag_id, run_id in list(pending.items()):
            state = str(client.run(dag_id, run_id)["state"])
            if state in ("success", "failed"):
                finished = Finished(dag_id, run_id, state, time.monotonic() - started)
                done.append(finished)
                del pending[dag_id]
                if dag_id in paused:
                    client.set_paused(dag_id, True)
                if on_done:
                    on_done(finished)
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"still running after {timeout_s:.0f} s: {', '.join(pending)} for {day}")
        time.sleep(1)
    return done


def run_day(
    client: AirflowREST,
    day: date,
    on_done: Callable[[Finished], None] | None = None,
    timeout_s: float = 1800,
    nightly_deadline_in: timedelta | None = None,
) -> list[Finished]:
    """Every ingest DAG side by side, then the nightly, for `day`. A failed ingest does not hold back
    the others nor the nightly (one feed's bad file must not stop the night). `nightly_deadline_in`:
    trigger the nightly as if the scheduler had created it late, its 07:00 deadline that long after
    it starts (to see the deadline alert under the real triggerer)."""
    ingests = [ingest.dag_id(feed) for feed in feeds.registry().values()]
    done = trigger_and_wait(client, ingests, day, timeout_s, on_done)
    logical = (
        datetime.now(UTC) - nightly.publish_deadline() + nightly_deadline_in
        if nightly_deadline_in is not None
        else None
    )
    return done + trigger_and_wait(client, [nightly.DAG_ID], day, timeout_s, on_done, logical)


def failed(done: list[Finished]) -> list[str]:
    return sorted(f.dag_id for f in done if f.state != "success")
