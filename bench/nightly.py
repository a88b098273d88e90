"""Nightly benchmark: the real nightly DAG (Cosmos, dbt, the GX mart gate, publish) run by Airflow as
it is deployed — api-server, scheduler, DAG processor and triggerer as separate processes
(greencert.serve.Stack, what `greencert serve` starts), the run triggered through the REST API — at
Suzhou scale and at national scale, side by side in one run, beside one `dbt build` of the whole
project on the same data.

    .venv/bin/python bench/nightly.py [--scales suzhou national] [--chains N]

For each scale, in a fresh database of a bench-only embedded PostgreSQL (var/bench, port 24359):
1. day D0: every feed's sample data for D0 is landed, loaded and gated (the ingest path without
   Airflow: greencert.extract/load/quality), the certificates being the Suzhou generator's file or
   the national one (~5 M rows, standins.national); then the nightly for D0. It is the
   warehouse's first build, so every incremental model is built in full: the full-refresh time.
2. day D1: the day's changes — the certificates changed on D1 (what the http connector fetches
   from the watermark) and the other feeds' D1 files; then the nightly for D1: the incremental time.
3. one `dbt build` of the whole project (seeds, staging, snapshots, facts, tests; one dbt process)
   for D1 into a build schema of its own, on the same data, right after: what the night's dbt work
   costs without the orchestration (the incremental models have nothing new left to take by then;
   at Suzhou scale that is 38 changed rows).

The nightly's time is its DAG run's, from trigger to success as the REST API reports it (the
Airflow components are started before). Prints a table and the ratios — nightly / one dbt build
(`ratios.nightly_vs_one_dbt_build`), national / Suzhou incremental nightly — and writes
bench/results/nightly.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# a warehouse and Airflow home of its own: the bench never touches the demo's or the tests'
os.environ.setdefault("GREENCERT_VAR", str(ROOT / "var" / "bench"))
os.environ.setdefault("GREENCERT_PG_PORT", "24359")
os.environ.setdefault("GREENCERT_AIRFLOW_PORT", "24360")
# the national certificates file holds 5.02 M rows, over the loader's default bound of 5 M a file
# (GREENCERT_MAX_FILE_ROWS, which refuses it): a national deployment raises it, as bench/gate.py does
os.environ.setdefault("GREENCERT_MAX_FILE_ROWS", "10000000")
sys.path.insert(0, str(ROOT / "plugins"))

from greencert import environment, feeds, settings, subprocesses  # noqa: E402
from greencert.serve.rest import AirflowREST  # noqa: E402
from greencert.serve.stack import Stack  # noqa: E402

D0 = date(2025, 6, 30)
D1 = D0 + timedelta(days=1)


def _step(msg: str) -> float:
    print(f"  {msg}", flush=True)
    return time.monotonic()


def certificates_files(scale: str, work: Path, chains: int | None) -> tuple[Path, Path]:
    """(full file for D0, the records changed on D1) for the scale."""
    from standins import certificates, national

    full, delta = work / f"certificates_{scale}_{D0:%Y%m%d}.csv", work / f"certificates_{scale}_delta_{D1:%Y%m%d}.csv"
    if full.exists() and delta.exists():
        return full, delta
    if scale == "national":
        national.write_full(D0, full, chains=chains)
        national.write_delta(D1, delta, chains=chains)
        return full, delta
    pop = certificates.build_population()
    certificates.write_csv(pop, D0, full)
    day1 = certificates.write_csv(pop, D1, work / "certificates_suzhou_full_d1.csv")
    with full.open(encoding="utf-8") as fh:
        before = set(fh)
    with day1.open(encoding="utf-8") as fh, delta.open("w", encoding="utf-8") as out:
        header, *lines = fh
        out.write(header)
        out.writelines(line for line in lines if line not in before)
    day1.unlink()
    return full, delta


def rows_in(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def ingest(urls: dict[str, str], day: date, certificates_file: Path, work: Path) -> dict[str, float]:
    """Every feed's data for `day` through land → load → raw gate; seconds per feed."""
    from greencert.extract.files import land_new_files
    from greencert.load.copy_batch import load_batch
    from greencert.quality.raw_gate import run_raw_gate
    from standins import write_all

    drop = work / "drop" / day.isoformat()
    write_all(day, dropbox=drop, api_store=drop)
    for stale in (drop / "certificates").glob("*"):
        stale.unlink()
    shutil.copy2(certificates_file, drop / "certificates" / certificates_file.name)  # the drop folder refuses links
    seconds = {}
    for feed in feeds.registry().values():
        started = time.monotonic()
        for batch in land_new_files(feed, urls["loader"], day, dropbox=drop / feed.name, landing=work / "landing"):
            load_batch(feed, urls["loader"], batch)
            gate = run_raw_gate(feed, urls["loader"], batch.batch_id, run_id=f"bench-{day}")
            if not gate.success:
                raise SystemExit(f"bench data refused by the raw gate: {gate.summary()}")
        seconds[feed.name] = round(time.monotonic() - started, 1)
    return seconds


def phases(client: AirflowREST, dag_id: str, run_id: str) -> dict[str, float]:
    """Where the run's time went, from its task instances: each top-level task's run time, the dbt
    producer's (the night's one `dbt build`), and the dbt group's span from its first start to its
    last end (the producer and the sensors that follow it)."""
    from datetime import datetime

    from greencert.orchestration import nightly as nightly_dag

    tis = client.task_instances(dag_id, run_id)
    span: dict[str, tuple[datetime, datetime]] = {}
    for ti in tis:
        if not (ti.get("start_date") and ti.get("end_date")):
            continue
        start, end = (datetime.fromisoformat(ti[k]) for k in ("start_date", "end_date"))
        task_id = str(ti["task_id"])
        names = [task_id] if "." not in task_id else ["dbt group"]
        if task_id == nightly_dag.BUILD_TASK:
            names.append("dbt build (producer)")
        for name in names:
            a, b = span.get(name, (start, end))
            span[name] = (min(a, start), max(b, end))
    return {
        name: round((b - a).total_seconds(), 1) for name, (a, b) in sorted(span.items(), key=lambda kv: kv[1][0])
    } | {"tasks": float(len(tis))}


def nightly(client: AirflowREST, day: date) -> tuple[float, dict[str, float]]:
    """The nightly for `day` under the running scheduler: seconds from trigger to success, and phases."""
    from greencert.orchestration import nightly as nightly_dag
    from greencert.serve import runs

    [done] = runs.trigger_and_wait(client, [nightly_dag.DAG_ID], day, timeout_s=3600)
    if done.state != "success":
        raise SystemExit(f"the nightly for {day} ended {done.state}: see its logs under {settings.VAR}")
    took = phases(client, done.dag_id, done.run_id)
    print(f"    phases: {took}", flush=True)
    return round(done.seconds, 1), took


def one_dbt_build(urls: dict[str, str], day: date) -> float:
    """One `dbt build` of the whole project for `day`, as one dbt process, into a schema of its own."""
    from greencert.publish.swap import prepare_build

    schema = prepare_build(urls["transformer"], "build_bench", day)
    started = time.monotonic()
    # what the night builds: dbt's unit tests are CI's (orchestration/nightly.py NIGHTLY_EXCLUDE)
    subprocesses.dbt(
        ["build", "--exclude", "resource_type:unit_test"], environment.dbt_env(urls["transformer"], schema)
    )
    seconds = round(time.monotonic() - started, 1)
    import psycopg

    with psycopg.connect(urls["transformer"]) as conn:
        conn.execute(f"drop schema {schema} cascade")
    return seconds


def run_scale(scale: str, chains: int | None) -> dict[str, object]:
    from greencert import warehouse
    from greencert.warehouse import roles

    work = settings.VAR / "work" / scale
    work.mkdir(parents=True, exist_ok=True)
    t = _step(f"[{scale}] certificates files for {D0} (full) and {D1} (changes)")
    full, delta = certificates_files(scale, work, chains)
    full_rows, delta_rows = rows_in(full), rows_in(delta)
    print(f"    {full_rows:,} certificates, {delta_rows:,} changed on {D1}; {time.monotonic() - t:.0f}s", flush=True)
    database = f"greencert_bench_{scale}"
    roles.drop_database(warehouse.admin_url(), database)
    urls = roles.bootstrap(warehouse.admin_url(), database)
    for path in (work / "landing", work / "drop"):
        if path.exists():
            import shutil

            shutil.rmtree(path)
    t = _step(f"[{scale}] ingest {D0}")
    ingest_d0 = ingest(urls, D0, full, work)
    print(f"    {time.monotonic() - t:.0f}s {ingest_d0}", flush=True)
    t = _step(f"[{scale}] start Airflow (api-server, scheduler, dag-processor, triggerer)")
    with Stack(urls, warehouse.admin_url(), schedules=False, metadata_db=f"airflow_bench_{scale}") as stack:
        print(f"    {time.monotonic() - t:.0f}s", flush=True)
        client = stack.client()
        _step(f"[{scale}] nightly {D0}: first build, every incremental model in full")
        full_refresh, full_phases = nightly(client, D0)
        print(f"    {full_refresh:.1f}s", flush=True)
        t = _step(f"[{scale}] ingest {D1}: the day's changes")
        ingest_d1 = ingest(urls, D1, delta, work)
        print(f"    {time.monotonic() - t:.0f}s {ingest_d1}", flush=True)
        _step(f"[{scale}] nightly {D1}: incremental")
        incremental, incremental_phases = nightly(client, D1)
        print(f"    {incremental:.1f}s", flush=True)
    _step(f"[{scale}] one dbt build of the project for {D1}, on the same data")
    dbt_build = one_dbt_build(urls, D1)
    print(f"    {dbt_build:.1f}s", flush=True)
    roles.drop_database(warehouse.admin_url(), database)  # national scale holds several GB
    return {
        "certificates": full_rows,
        "changed_on_d1": delta_rows,
        "ingest_d0_s": ingest_d0,
        "ingest_d1_s": ingest_d1,
        "nightly_full_s": full_refresh,
        "nightly_incremental_s": incremental,
        "nightly_full_phases_s": full_phases,
        "nightly_incremental_phases_s": incremental_phases,
        "one_dbt_build_s": dbt_build,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scales", nargs="+", default=["suzhou", "national"], choices=["suzhou", "national"])
    p.add_argument("--chains", type=int, help="national generator's chain count (default: its ~5 M rows)")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "nightly.json"))
    args = p.parse_args()
    from greencert import warehouse
    from greencert.warehouse import server

    was_running = server.is_running()
    warehouse.admin_url()
    subprocesses.dbt_parse()
    results = {scale: run_scale(scale, args.chains) for scale in args.scales}
    if not was_running:
        server.stop()
    print()
    print(
        f"{'scale':<10} {'certificates':>13} {'changed D1':>11} {'nightly full':>13} {'nightly incr.':>14}"
        f" {'one dbt build':>14}"
    )
    for scale, r in results.items():
        print(
            f"{scale:<10} {r['certificates']:>13,} {r['changed_on_d1']:>11,} {r['nightly_full_s']:>12.1f}s "
            f"{r['nightly_incremental_s']:>13.1f}s {r['one_dbt_build_s']:>13.1f}s"
        )
    ratios: dict[str, float] = {}
    first = results.get("suzhou") or next(iter(results.values()))
    ratios["nightly_vs_one_dbt_build"] = round(first["nightly_incremental_s"] / first["one_dbt_build_s"], 2)
    print(f"nightly (real scheduler) / one dbt build = {ratios['nightly_vs_one_dbt_build']:.2f}x (goal <= 2x)")
    ratio = None
    if {"suzhou", "national"} <= results.keys():
        ratio = results["national"]["nightly_incremental_s"] / results["suzhou"]["nightly_incremental_s"]
        ratios["national_vs_suzhou_incremental"] = round(ratio, 2)
        print(f"national / Suzhou incremental nightly = {ratio:.2f}x (goal <= 2x)")
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {
                "results": results,
                "ratios": ratios,
                "path": "nightly DAG run under the real scheduler (REST trigger)",
                "machine": machine,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
