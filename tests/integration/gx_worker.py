"""Driver for test_gx_processes: one process that gates loaded batches with real GX, the way an
ingest DAG's `validate` task does (its own process; several run side by side on one host).

Imports GX, says it is ready (READY_DIR/<name>), waits for START, then gates each batch: the raw
gate (run_raw_gate) or, with --data-docs, its steps with the Data Docs rebuilt as the mart gate
does. Prints one JSON line: {batch_id: success}.

Usage: python -m tests.integration.gx_worker NAME READY_DIR START LOADER_URL RUN_ID [--data-docs] BATCH...
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> dict[str, bool]:
    name, ready, start, url, run_id, *rest = argv
    docs = "--data-docs" in rest
    batches = [b for b in rest if b != "--data-docs"]
    import great_expectations  # noqa: F401  (the slow import, before the start line)

    from greencert import feeds
    from greencert.load.copy_batch import mark
    from greencert.quality import gx_run, raw_suite, row_rules
    from greencert.quality.raw_gate import run_raw_gate

    feed = feeds.get("certificates")
    (Path(ready) / name).touch()
    while not Path(start).exists():
        time.sleep(0.01)
    outcomes = {}
    began = time.monotonic()
    for batch_id in batches:
        if docs:  # run_raw_gate's steps, with the Data Docs rebuilt
            row_rules.quarantine_batch(feed, url, batch_id)
            outcome = gx_run.validate(
                url,
                raw_suite.suite_name(feed),
                query=row_rules.clean_rows_query(feed, batch_id),
                target=batch_id,
                run_id=run_id,
                expectations=raw_suite.expectations(feed),
                data_docs=True,
            )
            mark(url, batch_id, "accepted" if outcome.success else "rejected")
            outcomes[batch_id] = outcome.success
        else:
            outcomes[batch_id] = run_raw_gate(feed, url, batch_id, run_id).success
    print(f"{name}: {len(batches)} batches in {time.monotonic() - began:.1f} s", file=sys.stderr)
    return outcomes


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
