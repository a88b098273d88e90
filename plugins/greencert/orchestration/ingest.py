"""One ingest DAG per feed of the registry: land → load (COPY into raw) → raw gate (GX)."""

from __future__ import annotations

from typing import Any

from greencert import settings
from greencert.connections import LOADER_CONN, SOURCE_API_CONN, conninfo, http_base
from greencert.feeds import Feed
from greencert.orchestration.common import RETRIES, default_args
from greencert.snapshot_date import of_context as as_of

TAKES_HTTP = (
    "Fetches what changed since the feed's watermark from the source's API (connection "
    "`greencert_source_api`, retried with backoff, bounded), lands it and any file in the drop folder "
    "by content hash (the drop folder is taken even when the API fails: the run then fails at the end "
    "naming the API error), "
)
TAKES_FILES = "Lands new files from the drop folder by content hash, "


def dag_id(feed: Feed) -> str:
    return f"greencert_ingest_{feed.name}"


def build(feed: Feed) -> Any:
    from airflow.sdk import DAG, Asset, CronTriggerTimetable, task
    from airflow.sdk.exceptions import AirflowFailException

    raw_asset = Asset(name=f"raw.{feed.name}", uri=feed.asset_uri)

    with DAG(
        dag_id=dag_id(feed),
        description=f"Ingest {feed.name}: {feed.title}",
        doc_md=f"### {feed.title}\n\nSource: {feed.source} (connector `{feed.connector}`).\n\n{feed.doc}\n\n"
        + (TAKES_HTTP if feed.connector == "http" else TAKES_FILES)
        + f"COPYs them into `{feed.raw_table}`, moves rows that break a row rule to `dq.quarantine` and runs "
        "the raw GX suite on the rest; a batch that fails is marked rejected and never reaches staging "
        "(`greencert quarantine` lists what was set aside).",
        schedule=CronTriggerTimetable(feed.schedule, timezone=settings.TIMEZONE),
        catchup=False,
        max_active_runs=1,
        default_args=default_args(retries=RETRIES),
        tags=["greencert", "ingest", feed.name],
    ) as dag:

        @task(retries=2)
        def land(**context: Any) -> dict[str, Any]:
            from greencert.extract.files import take_drop_folder

            url, day = conninfo(LOADER_CONN), as_of(context)
            api_error = None
            if feed.connector == "http":
                from greencert.extract.http import land_from_api

                try:
                    batch_id, fetched = land_from_api(feed, url, day, http_base(SOURCE_API_CONN))
                    print(
                        f"feed {feed.name}: {fetched.url}: {len(fetched.items)} records in {fetched.pages} pages "
                        f"({fetched.passes} passes, {fetched.retries} retries, {fetched.bytes} bytes) → "
                        f"{batch_id or 'nothing new to land'}"
                    )
                except Exception as exc:  # noqa: BLE001 — the API failing must not stop the drop folder
                    # the fallback the contracts allow: the drop folder is polled whatever the API did,
                    # its files land and load in this run, and the run fails at the end naming the API error
                    api_error = f"{type(exc).__name__}: {exc}"[:2000]
                    print(f"feed {feed.name}: the API fetch failed ({api_error}); polling the drop folder anyway")
            drop = take_drop_folder(feed, url, day)  # the drop folder: every feed's, http ones' fallback
            for line in drop.refused:
                print(f"feed {feed.name}: refused from the drop folder: {line}")
            for name in drop.waiting:
                print(f"feed {feed.name}: {name} is still being written: left for the next run")
            return {"batch_ids": [b.batch_id for b in drop.batches], "api_error": api_error, "refused": drop.refused}

        @task
        def load(landed: dict[str, Any]) -> dict[str, Any]:
            from greencert.load.copy_batch import BatchRejected, load_batch
            from greencert.load.manifest import batches_by_id, mark

            url = conninfo(LOADER_CONN)
            loaded, refused = [], [f"{line} (drop folder)" for line in landed["refused"]]
            for batch in batches_by_id(url, landed["batch_ids"]):
                try:
                    result = load_batch(feed, url, batch)
                    loaded.append(
                        {
                            "batch_id": batch.batch_id,
                            "rows": result.rows,
                            "unknown_headers": list(result.unknown_headers),
                        }
                    )
                except BatchRejected as exc:  # the other batches of the run still go on
                    print(f"feed {feed.name}: batch {batch.batch_id} refused: {exc}")
                    refused.append(str(exc))
                except Exception as exc:  # noqa: BLE001 — one batch never stops the others
                    reason = f"{batch.source_file}: cannot be loaded ({type(exc).__name__}: {str(exc)[:300]})"
                    print(f"feed {feed.name}: batch {batch.batch_id}: {reason}")
                    try:
                        mark(url, batch.batch_id, "rejected", reason)
                    except Exception:  # noqa: BLE001 — the warehouse itself is down: it stays to load again
                        reason += " (left to load again: it could not be marked rejected)"
                    refused.append(reason)
            return {"loaded": loaded, "refused": refused, "api_error": landed.get("api_error")}

        @task(outlets=[raw_asset])
        def validate(load_result: dict[str, Any], **context: Any) -> list[dict[str, Any]]:
            from greencert.quality.raw_gate import run_raw_gate

            url = conninfo(LOADER_CONN)
            gates, problems = [], []
            for b in load_result["loaded"]:
                try:
                    gates.append(run_raw_gate(feed, url, b["batch_id"], run_id=context["run_id"]))
                except Exception as exc:  # noqa: BLE001 — the batch stays loaded (gated again next run);
                    problems.append(f"batch {b['batch_id']}: the raw gate failed: {type(exc).__name__}: {exc}")
            for gate in gates:
                print(gate.summary())
            if load_result.get("api_error"):
                problems.insert(
                    0, "the API fetch failed (the drop folder was still taken): " + load_result["api_error"]
                )
            problems += [f"batch refused: {reason}" for reason in load_result["refused"]]
            problems += [f"batch refused by the raw gate: {g.summary()}" for g in gates if not g.success]
            if problems:  # the feed stops here, loudly; earlier batches and other feeds are untouched
                raise AirflowFailException(f"feed {feed.name}:\n" + "\n".join(problems))
            return [
                {
                    "batch_id": g.batch_id,
                    "rows_checked": g.quarantined.rows_checked,
                    "rows_quarantined": g.quarantined.rows_quarantined,
                    "checks": len(g.outcome.checks),
                }
                for g in gates
            ]

        validate(load(land()))  # type: ignore[arg-type]  # TaskFlow: each called with the one before's XComArg

    return dag
