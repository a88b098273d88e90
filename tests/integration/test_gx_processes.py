"""GX in real processes: quiet in a task's log, and safe side by side.

A validation logs what an engineer needs (the gate's summary, its failures), not GX's own chatter:
the nightly's audit log was 286 GX lines of 316. Ingest runs go side by side: several processes
validate with GX at once (each ingest DAG run's `validate` task is a process of its own, possibly on
Celery workers of one host), on one GX file context (expectations/gx). Each must succeed and record
its results; before the context was locked, one read great_expectations.yml while another wrote it
(`found duplicate key "data_context_id"`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import psycopg
import pytest

from greencert import feeds, settings
from greencert.extract.files import land_new_files
from greencert.load.copy_batch import load_batch
from greencert.quality import gx_run, raw_suite

from .helpers import AS_OF, cert, write_csv

WORKERS = 3
BATCHES_EACH = 2


@pytest.fixture(scope="module")
def urls(fresh_database):
    return fresh_database("greencert_gx_processes")


def test_validations_side_by_side_all_succeed_and_are_recorded(urls, tmp_path) -> None:
    feed = feeds.get("certificates")
    drop = tmp_path / "drop"
    for n in range(WORKERS * BATCHES_EACH):  # three good rows and one the quarantine takes, per batch
        write_csv(drop / f"b{n:02d}.csv", [cert(f"B{n}R{r}") for r in range(3)] + [cert(f"B{n}X", 证书状态="有效中")])
    landed = land_new_files(feed, urls["loader"], AS_OF, dropbox=drop, landing=tmp_path / "landing")
    assert len(landed) == WORKERS * BATCHES_EACH
    for batch in landed:
        load_batch(feed, urls["loader"], batch)
    batches = {f"w{w}": [b.batch_id for b in landed[w::WORKERS]] for w in range(WORKERS)}

    ready, start = tmp_path / "ready", tmp_path / "start"
    ready.mkdir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(settings.ROOT), str(settings.ROOT / "plugins")]))
    procs = {
        name: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.gx_worker",
                name,
                str(ready),
                str(start),
                urls["loader"],
                f"side-by-side-{name}",
                *(["--data-docs"] if name == "w0" else []),
                *ids,
            ],
            cwd=settings.ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, ids in batches.items()
    }
    try:
        deadline = time.monotonic() + 900  # a loaded machine imports GX slowly
        while len(list(ready.iterdir())) < WORKERS:  # every worker has GX imported: start them together
            assert time.monotonic() < deadline, "workers not ready"
            assert all(p.poll() is None for p in procs.values()), "a worker ended before the start"
            time.sleep(0.05)
        start.touch()
        ended = {name: proc.communicate(timeout=1200) for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    failed = {name: err[-3000:] for name, (_, err) in ended.items() if procs[name].returncode != 0}
    assert failed == {}
    for name, ids in batches.items():
        assert json.loads(ended[name][0].strip().splitlines()[-1]) == dict.fromkeys(ids, True), name

    checks = len(raw_suite.expectations(feed))
    with psycopg.connect(urls["loader"]) as conn:
        recorded = dict(conn.execute("select target, count(*) from dq.validation_runs group by target").fetchall())
        status = dict(conn.execute("select batch_id, status from raw.landing_manifest").fetchall())
        quarantined = dict(conn.execute("select batch_id, count(*) from dq.quarantine group by batch_id").fetchall())
    every = [b for ids in batches.values() for b in ids]
    assert recorded == dict.fromkeys(every, checks)  # each batch's every expectation, once
    assert status == dict.fromkeys(every, "accepted")
    assert quarantined == dict.fromkeys(every, 1)
    assert gx_run.data_docs_index().exists()


QUIET = """
import json, logging, sys
records = []


class Keep(logging.Handler):
    def emit(self, record):
        records.append([record.name, record.levelname, record.getMessage()[:200]])


logging.basicConfig(level=logging.INFO, handlers=[Keep()])  # as a task's log: the root logger at INFO
from greencert import feeds
from greencert.quality import gx_run, row_rules
from greencert.quality.raw_gate import run_raw_gate

url, batch = sys.argv[1:3]
gate = run_raw_gate(feeds.get("certificates"), url, batch, "quiet")
failing = gx_run.validate(url, "raw.quiet_probe", query=row_rules.clean_rows_query(feeds.get("certificates"), batch),
                          target=batch, run_id="quiet",
                          expectations=[{"type": "expect_table_row_count_to_equal", "kwargs": {"value": 0},
                                         "meta": {"why": "probe: a suite that fails"}}])
print(json.dumps({"success": [gate.success, failing.success], "records": records}))
"""


def test_a_validation_logs_its_summary_and_failures_not_gx_chatter(urls, tmp_path) -> None:
    """In a fresh process (GX imported by the gate, as in a task): GX's INFO lines (its import, its
    stores, its metrics) stay out, no progress bar reaches stderr; each gate's summary and a failed
    expectation are there."""
    feed = feeds.get("certificates")
    drop = tmp_path / "quiet"
    write_csv(drop / "q.csv", [cert("Q1"), cert("Q2", 证书状态="有效中")])  # one row quarantined
    (batch,) = land_new_files(feed, urls["loader"], AS_OF, dropbox=drop, landing=tmp_path / "landing")
    load_batch(feed, urls["loader"], batch)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(settings.ROOT), str(settings.ROOT / "plugins")]))
    proc = subprocess.run(
        [sys.executable, "-c", QUIET, urls["loader"], batch.batch_id],
        cwd=settings.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    gx_lines = [r for r in result["records"] if r[0].startswith("great_expectations")]
    assert [r for r in gx_lines if r[1] in ("DEBUG", "INFO")] == []
    assert result["success"] == [True, False]
    ours = [r[2] for r in result["records"] if r[0] == "greencert.quality.gx_run"]
    assert len(ours) == 2 and ours[0].startswith("GX suite raw.certificates on certificates-")
    assert "1/1 expectations passed" not in ours[1]
    assert "FAILED expect_table_row_count_to_equal() — probe: a suite that fails: 1" in ours[1]
    assert "Calculating Metrics" not in proc.stderr and "it/s]" not in proc.stderr
    assert len(result["records"]) <= 10, result["records"]
