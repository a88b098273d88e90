"""Raw-gate benchmark: a certificates CSV ingested the way the ingest DAG does it, against psql `\\copy`.

    .venv/bin/python bench/gate.py [--rows 1000000] [--memory-rows 1000000,2000000] [--national]

Side by side, in one run, on a fresh database of the embedded warehouse (or WAREHOUSE_URL):
- `psql \\copy` of the file into a text table: the physical limit here;
- the ingest DAG's three tasks, each in a fresh process as a task runs it (Python start-up and every
  import paid, great_expectations' included): `land` (greencert.extract.files), `load`
  (greencert.load.copy_batch) and `validate` (greencert.quality.raw_gate.run_raw_gate, as the task
  calls it: the row rules with great_expectations imported beside them, then the GX suite), with the
  seconds of each phase and each process's peak memory.
`ratios.ingest_vs_psql_copy` = `\\copy` seconds / (land + load + validate) seconds (goal >= 0.25).

The gate's peak memory (`peak_rss_mb.gate_<n>`: the `validate` process's peak RSS) is measured on
batches of each size of --memory-rows too (a fresh database each), and its slope per million rows;
`peak_rss_mb.gate_5m` is written only when 5 M rows were measured, else the projection from the slope
is written as `peak_rss_mb.gate_5m_projected`.

With --national: the national first load of ALL feeds through the ingest path's tasks (land, load,
validate per feed, each a fresh process; the ~5 M-row certificates from standins.national,
made once and kept in var/bench/national), its seconds as `seconds.national_first_load_all_feeds`
(issue 16: <= 300). Prints a table, writes bench/results/gate.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT / "bench"))

DATABASE = "greencert_bench_gate"


def _peak_mb() -> float:
    return max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024


def task(name: str, path: Path, state: Path) -> None:
    """Child process: one ingest task, as the DAG's task runs it; prints its figures as JSON."""
    started = time.perf_counter()
    urls = json.loads(os.environ["GREENCERT_BENCH_URLS"])
    out: dict[str, float | int | str] = {}
    from load import AS_OF, WORK  # noqa: E402 — bench/load.py: the same file and landing place

    from greencert import feeds

    feed = feeds.get("certificates")
    if name == "land":
        from greencert.extract.files import land_new_files

        (batch,) = land_new_files(
            feed, urls["loader"], AS_OF, dropbox=path.parent / f"drop_{path.stem}", landing=WORK / "landing_gate"
        )
        state.write_text(json.dumps({"batch_id": batch.batch_id}))
    elif name == "load":
        from greencert.load.copy_batch import load_batch
        from greencert.load.manifest import batches_by_id

        (batch,) = batches_by_id(urls["loader"], [json.loads(state.read_text())["batch_id"]])
        out["rows"] = load_batch(feed, urls["loader"], batch).rows
    elif name == "validate":
        from greencert.quality import raw_gate

        batch_id = json.loads(state.read_text())["batch_id"]
        out["imports_s"] = time.perf_counter() - started
        gate = raw_gate.run_raw_gate(feed, urls["loader"], batch_id, run_id="bench-gate")  # as the task
        q = gate.quarantined
        out["row_rules_s"] = gate.seconds["row_rules"]  # great_expectations imported beside them
        out["gx_suite_s"] = gate.seconds["gx_suite"]  # what is left of its import, its context, the suite
        out.update(
            rows_checked=q.rows_checked,
            rows_quarantined=q.rows_quarantined,
            success=gate.success,
            summary=gate.summary()[:1000],
        )
        if not gate.success:
            raise SystemExit(f"the gate refused the batch: {out['summary']}")
    out["task_s"] = time.perf_counter() - started
    out["peak_rss_mb"] = _peak_mb()
    print(json.dumps(out))


def feed_task(name: str, feed_name: str, drop: Path, state: Path) -> None:
    """Child process: one ingest task of any feed (land the drop folder's files; load, or gate, each
    batch landed), as the ingest DAG's task runs it; prints its figures as JSON."""
    started = time.perf_counter()
    urls = json.loads(os.environ["GREENCERT_BENCH_URLS"])
    from greencert import feeds

    feed = feeds.get(feed_name)
    out: dict[str, object] = {}
    if name == "land":
        from greencert.extract.files import land_new_files

        batches = land_new_files(
            feed, urls["loader"], NATIONAL_DAY, dropbox=drop / feed.name, landing=drop.parent / "landing"
        )
        state.write_text(json.dumps([b.batch_id for b in batches]))
        out["batches"] = len(batches)
    elif name == "load":
        from greencert.load.copy_batch import load_batch
        from greencert.load.manifest import batches_by_id

        out["rows"] = sum(
            load_batch(feed, urls["loader"], b).rows
            for b in batches_by_id(urls["loader"], json.loads(state.read_text()))
        )
    elif name == "validate":
        from greencert.quality.raw_gate import run_raw_gate

        for batch_id in json.loads(state.read_text()):
            gate = run_raw_gate(feed, urls["loader"], batch_id, run_id="bench-national")
            if not gate.success:
                raise SystemExit(f"the gate refused the batch: {gate.summary()[:2000]}")
            out["rows_quarantined"] = int(out.get("rows_quarantined", 0)) + gate.quarantined.rows_quarantined
    out["task_s"] = time.perf_counter() - started
    out["peak_rss_mb"] = _peak_mb()
    print(json.dumps(out))


NATIONAL_DAY = date(2025, 6, 30)  # bench/nightly.py's D0


def national_first_load() -> dict:
    """The national scale's first load (DESIGN.md: ~5 M certificates with history): every feed's files
    for NATIONAL_DAY — the certificates from standins.national, the other feeds from their
    generators (standins.write_all), as bench/nightly.py ingests them — dropped in their
    folders of a fresh database, then each feed's three ingest tasks (land, load, validate), each a
    fresh process as the DAG's tasks run, feed after feed; wall seconds per feed and task."""
    from load import WORK

    from greencert import feeds
    from standins import national, write_all

    work = WORK / "national"
    work.mkdir(parents=True, exist_ok=True)
    certificates = work / f"certificates_national_{NATIONAL_DAY:%Y%m%d}.csv"
    if not certificates.exists():
        started = time.perf_counter()
        national.write_full(NATIONAL_DAY, certificates.with_suffix(".csv.part"))
        certificates.with_suffix(".csv.part").rename(certificates)
        print(f"  national certificates generated in {time.perf_counter() - started:.0f} s", flush=True)
    drop = work / "drop"
    for old in (drop, work / "landing"):
        if old.exists():
            shutil.rmtree(old)
    write_all(NATIONAL_DAY, dropbox=drop, api_store=drop)  # an http feed's CSV fallback: its drop folder
    for stale in (drop / "certificates").glob("*"):
        stale.unlink()
    shutil.copyfile(certificates, drop / "certificates" / certificates.name)  # a copy: the drop folder refuses links
    urls = fresh_database()
    # the national certificates file is ~5.02 M rows, past the loader's default limit of 5 M rows a
    # file (GREENCERT_MAX_FILE_ROWS, which refuses it): a national deployment raises it, as here
    env = {
        **os.environ,
        "GREENCERT_BENCH_URLS": json.dumps(urls),
        "GREENCERT_DROP_SETTLE_S": "0",
        "GREENCERT_MAX_FILE_ROWS": os.environ.get("GREENCERT_MAX_FILE_ROWS", "10000000"),
    }
    result: dict = {"day": NATIONAL_DAY.isoformat(), "feeds": {}}
    total = 0.0
    for name in feeds.registry():
        state = work / f"state_{name}.json"
        run: dict = {}
        for task_name in ("land", "load", "validate"):
            figures, wall = child(
                ["--feed-task", task_name, "--feed", name, "--file", str(drop), "--state", str(state)], env
            )
            run[task_name] = {**figures, "wall_s": wall}
            total += wall
        run["seconds"] = sum(run[t]["wall_s"] for t in ("land", "load", "validate"))
        result["feeds"][name] = run
        print(
            f"  {name:<26} {run['load'].get('rows', 0):>10,} rows  land {run['land']['wall_s']:5.1f}  load "
            f"{run['load']['wall_s']:5.1f}  validate {run['validate']['wall_s']:5.1f}  = {run['seconds']:6.1f} s",
            flush=True,
        )
    result["seconds"] = total
    return result


def forked(path: Path, state: Path) -> None:
    """Child process: the tasks as Airflow's executors start them — forked from a process that has
    imported what plugins/airflow_local_settings.py preloads (GX, dbt, Cosmos, the loader) — each
    timed from its fork to its exit; prints {task: figures} as JSON."""
    from greencert.orchestration.preload import preload

    logging.disable(logging.INFO)
    preload()
    out = {}
    for name in ("land", "load", "validate"):
        result = state.with_suffix(f".{name}.json")
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # the task
            try:
                with result.open("w") as fh:
                    os.dup2(fh.fileno(), 1)
                    task(name, path, state)
                    sys.stdout.flush()
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        wall = time.perf_counter() - started
        if status != 0:
            raise SystemExit(f"forked task {name} failed ({status})")
        out[name] = {**json.loads(result.read_text().strip().splitlines()[-1]), "wall_s": wall}
    print(json.dumps(out))


def psql_copy(path: Path) -> None:
    from load import psql_copy as copy_with_psql  # bench/load.py: the same table and command

    rows, seconds = copy_with_psql(json.loads(os.environ["GREENCERT_BENCH_URLS"])["loader"], path)
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_rss_mb": _peak_mb()}))


def child(args: list[str], env: dict[str, str]) -> tuple[dict, float]:
    """Run this file as a fresh process; its JSON line and its wall-clock seconds (start-up included)."""
    started = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"{args} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1]), wall


def fresh_database() -> dict[str, str]:
    from load import bench_database

    return bench_database(DATABASE)


def ingest(rows: int, with_copy: bool, how: str = "cold") -> dict:
    """A fresh database, (psql \\copy,) then land, load, validate: as three fresh processes (cold), or
    forked from a process that preloaded the libraries (forked)."""
    from load import make_file

    path = make_file(rows)
    drop = path.parent / f"drop_{path.stem}"  # the drop folder: this file only
    drop.mkdir(exist_ok=True)
    (drop / path.name).unlink(missing_ok=True)
    shutil.copyfile(path, drop / path.name)  # a copy: the drop folder refuses hard links
    urls = fresh_database()
    # the file was complete when copied in: no settle wait (as the tests)
    env = {**os.environ, "GREENCERT_BENCH_URLS": json.dumps(urls), "GREENCERT_DROP_SETTLE_S": "0"}
    state = path.parent / f"gate_state_{rows}.json"
    result: dict = {"rows": rows, "file_mb": round(path.stat().st_size / 1e6, 1)}
    if with_copy:
        result["psql_copy"], _ = child(["--psql", "--file", str(path)], env)
    if how == "forked":
        tasks, _ = child(["--forked", "--file", str(path), "--state", str(state)], env)
        result.update(tasks)
        return result
    for name in ("land", "load", "validate"):
        figures, wall = child(["--task", name, "--file", str(path), "--state", str(state)], env)
        result[name] = {**figures, "wall_s": wall}
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--memory-rows", default="", help="comma-separated batch sizes for the gate's peak memory")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "gate.json"))
    p.add_argument(
        "--national",
        action="store_true",
        help="also the national first load of all feeds (seconds.national_first_load_all_feeds)",
    )
    p.add_argument("--feed-task", help=argparse.SUPPRESS)
    p.add_argument("--feed", help=argparse.SUPPRESS)
    p.add_argument("--task", help=argparse.SUPPRESS)
    p.add_argument("--psql", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--forked", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--file", help=argparse.SUPPRESS)
    p.add_argument("--state", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.task:
        task(args.task, Path(args.file), Path(args.state))
        return 0
    if args.psql:
        psql_copy(Path(args.file))
        return 0
    if args.feed_task:
        feed_task(args.feed_task, args.feed, Path(args.file), Path(args.state))
        return 0
    if args.forked:
        forked(Path(args.file), Path(args.state))
        return 0

    runs = {"cold": ingest(args.rows, with_copy=True), "forked": ingest(args.rows, with_copy=True, how="forked")}
    seconds: dict[str, float] = {}
    ratios: dict[str, float] = {}
    for how, run in runs.items():
        suffix = "" if how == "cold" else f"_{how}"
        copy_s = run["psql_copy"]["seconds"]
        phases = {
            "psql_copy": copy_s,
            "land": run["land"]["wall_s"],
            "load": run["load"]["wall_s"],
            "validate": run["validate"]["wall_s"],
            "validate.imports": run["validate"]["imports_s"],
            "validate.row_rules": run["validate"]["row_rules_s"],
            "validate.gx_suite": run["validate"]["gx_suite_s"],
        }
        phases["ingest"] = phases["land"] + phases["load"] + phases["validate"]
        ratios[f"ingest_vs_psql_copy{suffix}"] = copy_s / phases["ingest"]
        seconds.update({f"{k}{suffix}": v for k, v in phases.items()})
        print(
            f"{args.rows:,} rows, {run['file_mb']} MB, {run['validate']['rows_quarantined']} quarantined; "
            f"tasks {'forked from a preloaded process' if suffix else 'each a fresh Python process'}:"
        )
        for k, v in phases.items():
            print(f"  {k:<20} {v:7.1f} s")
        print(f"  ingest = {ratios[f'ingest_vs_psql_copy{suffix}']:.3f}x psql \\copy (goal >= 0.25)", flush=True)
    # the gate's own memory: the validate task as a fresh process (a forked one shares its parent's pages)
    peak = {f"gate_{_label(args.rows)}": runs["cold"]["validate"]["peak_rss_mb"]}
    for n in [int(x) for x in args.memory_rows.split(",") if x.strip()]:
        if n == args.rows:
            continue
        run = ingest(n, with_copy=False)
        runs[f"cold_{_label(n)}"] = run
        peak[f"gate_{_label(n)}"] = run["validate"]["peak_rss_mb"]
        v = run["validate"]
        print(
            f"  gate on {n:,} rows: {v['wall_s']:.1f} s (row rules {v['row_rules_s']:.1f} s,"
            f" GX {v['gx_suite_s']:.1f} s), peak {v['peak_rss_mb']:.0f} MB",
            flush=True,
        )
        if n == 5_000_000:  # the national scale: ~5 M certificates with history (DESIGN.md)
            seconds["national_first_load_certificates_5m"] = sum(run[t]["wall_s"] for t in ("land", "load", "validate"))
            print(
                f"  national first load, certificates (5 M rows, land + load + validate, fresh processes): "
                f"{seconds['national_first_load_certificates_5m']:.0f} s",
                flush=True,
            )
    sizes = sorted((_rows(k[5:]), v) for k, v in peak.items())
    if len(sizes) >= 2:
        (n0, m0), (n1, m1) = sizes[0], sizes[-1]
        slope = (m1 - m0) / ((n1 - n0) / 1e6)
        peak["slope_per_million_rows"] = slope
        if "gate_5m" not in peak:
            peak["gate_5m_projected"] = m1 + slope * (5_000_000 - n1) / 1e6
    for k, v in peak.items():
        print(f"  peak_rss_mb.{k:<24} {v:7.1f}")
    if args.national:
        print("national first load, all feeds (land, load, validate per feed, each task a fresh process):", flush=True)
        runs["national_first_load"] = national_first_load()
        seconds["national_first_load_all_feeds"] = runs["national_first_load"]["seconds"]
        print(
            f"  national first load, all feeds: {seconds['national_first_load_all_feeds']:.0f} s (goal <= 300)",
            flush=True,
        )
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {
                "rows": args.rows,
                "machine": machine,
                "seconds": seconds,
                "ratios": ratios,
                "peak_rss_mb": peak,
                "runs": runs,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written {args.out}")
    return 0


def _label(rows: int) -> str:
    return f"{rows // 1_000_000}m" if rows % 1_000_000 == 0 else f"{rows // 1000}k"


def _rows(label: str) -> int:
    return int(label[:-1]) * (1_000_000 if label.endswith("m") else 1000)


if __name__ == "__main__":
    sys.exit(main())
