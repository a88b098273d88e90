"""The raw gate: run a feed's raw suite on one loaded batch and accept or reject the batch.

Only accepted batches reach staging, so a batch that fails its suite never moves a number.
"""

from __future__ import annotations

from psycopg import sql

from greencert.feeds import Feed
from greencert.load.copy_batch import mark
from greencert.quality import gx_run, raw_suite


def run_raw_gate(feed: Feed, conninfo: str, batch_id: str, run_id: str) -> gx_run.Outcome:
    query = sql.SQL("select * from {} where batch_id = {}").format(
        sql.Identifier("raw", feed.name), sql.Literal(batch_id)
    ).as_string()
    outcome = gx_run.validate(
        conninfo,
        raw_suite.suite_name(feed),
        query=query,
        target=batch_id,
        run_id=run_id,
        expectations=raw_suite.expectations(feed),
    )
    if outcome.success:
        mark(conninfo, batch_id, "accepted")
    else:
        mark(conninfo, batch_id, "rejected", outcome.summary()[:2000])
    return outcome
