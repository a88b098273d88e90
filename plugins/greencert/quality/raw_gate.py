"""The raw gate on one loaded batch: quarantine the rows that break a row rule, then run the feed's
GX suite on the rows left, and accept or reject the batch.

Only accepted batches reach staging, and staging skips quarantined rows, so neither a bad row nor
a batch that failed its suite ever moves a number. The http watermark moves only here, when a
batch is accepted, and only as far as its rows that were not quarantined (extract/http.py).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import psycopg

from greencert.extract.http import advance_watermark
from greencert.feeds import Feed
from greencert.load.manifest import mark, mark_accepted
from greencert.quality import gx_run, raw_suite, row_rules


@dataclass(frozen=True)
class RawGate:
    quarantined: row_rules.Quarantined
    outcome: gx_run.Outcome
    seconds: dict[str, float] = field(default_factory=dict, compare=False)  # row_rules, gx_suite

    @property
    def success(self) -> bool:
        return self.outcome.success

    @property
    def batch_id(self) -> str:
        return self.quarantined.batch_id

    def summary(self) -> str:
        q = self.quarantined
        rules = ", ".join(f"{rule} {n}" for rule, n in q.by_rule.items()) or "none"
        return (
            f"batch {q.batch_id}: {q.rows_checked} rows checked, {q.rows_quarantined} quarantined "
            f"(rules broken: {rules}); " + self.outcome.summary()
        )


def _import_gx() -> None:
    try:
        with gx_run.quiet_gx():
            gx_run.import_gx()
    except Exception:  # validate imports it again and says why
        pass


def run_raw_gate(feed: Feed, conninfo: str, batch_id: str, run_id: str) -> RawGate:
    """The row rules, then the GX suite on the rows left. great_expectations is imported beside the
    row rules (a thread: seconds of Python in a fresh task process, while the rules run in the
    database), not after them."""
    started = time.perf_counter()
    importing = threading.Thread(target=_import_gx, name="import great_expectations", daemon=True)
    importing.start()
    quarantined = row_rules.quarantine_batch(feed, conninfo, batch_id)
    ruled = time.perf_counter()
    importing.join()
    outcome = gx_run.validate(
        conninfo,
        raw_suite.suite_name(feed),
        query=row_rules.clean_rows_query(feed, batch_id, any_quarantined=quarantined.rows_quarantined > 0),
        target=batch_id,
        run_id=run_id,
        expectations=raw_suite.expectations(feed),
        details_on_failure=True,  # counts first; examples of what failed only when something did
    )
    gate = RawGate(quarantined, outcome, {"row_rules": ruled - started, "gx_suite": time.perf_counter() - ruled})
    if outcome.success:  # accepted, and the http watermark moves for what was accepted: together
        with psycopg.connect(conninfo) as conn:
            mark_accepted(conn, batch_id)
            advance_watermark(conn, feed, batch_id)
    else:
        mark(conninfo, batch_id, "rejected", gate.summary()[:2000])
    return gate
