"""DAG parsing benchmark: how long Airflow takes to parse each file in dags/ (goal: < 1 s in total).

    .venv/bin/python bench/parse.py [--repeat 3]

The nightly DAG renders dbt through Cosmos from a precompiled manifest, so parsing runs no dbt:
the manifest is compiled first (`greencert dbt-parse`, as `greencert airflow` does; not timed).
The folder is parsed in a fresh process with Airflow already imported: the total is the time
of `DagBag(dag_folder="dags/")` (airflow.dag_processing.dagbag, Airflow 3.2+), each file's figure
Airflow's own duration for it (its FileLoadStat, what `airflow dags report` prints), which includes
every import the file makes (Cosmos, greencert; the first file pays the ones they share). Each
file is also parsed alone, in a DagBag and a process of its own, as the DAG processor parses it.
Each figure is the median of --repeat runs. Uses this checkout's Airflow home
(GREENCERT_VAR/airflow); no database is touched. Prints a table and writes bench/results/parse.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

from greencert import settings  # noqa: E402

GOAL_SECONDS = 1.0
# parsing opens no connection; the DAG files only need the variables to exist
NO_CONNECTION = "postgresql://parse-bench@127.0.0.1:1/none"


def one(target: str) -> None:
    """Child process: parse `target` (a DAG file or the folder), print its stats as JSON."""
    started = time.perf_counter()
    from airflow.dag_processing.dagbag import DagBag

    imported = time.perf_counter()
    bag = DagBag(dag_folder=target)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "import_airflow_s": imported - started,
                "dagbag_s": done - imported,
                "import_errors": {Path(k).name: v for k, v in bag.import_errors.items()},
                "files": {
                    (Path(s.file).name or Path(target).name): {
                        "seconds": s.duration.total_seconds(),
                        "dags": s.dag_num,
                        "tasks": s.task_num,
                    }
                    for s in bag.dagbag_stats
                },
            }
        )
    )


def parse(target: Path, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", str(target)], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"parsing {target} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["import_errors"]:
        raise SystemExit(f"import errors in {target}: {result['import_errors']}")
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "parse.json"))
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        one(args.one)
        return 0

    from greencert import environment, subprocesses

    subprocesses.dbt_parse()
    env = environment.airflow_env({"loader": NO_CONNECTION, "transformer": NO_CONNECTION})
    files = sorted(settings.DAGS_DIR.glob("*.py"))
    parse(settings.DAGS_DIR, env)  # warm-up: Airflow's home and config, the OS file cache

    runs: dict[str, list[dict]] = {f.name: [] for f in files}
    folder_runs: list[dict] = []
    for _ in range(args.repeat):
        folder_runs.append(parse(settings.DAGS_DIR, env))
        for f in files:
            runs[f.name].append(parse(f, env))

    median = statistics.median
    table = []
    for f in files:
        in_folder = [r["files"][f.name] for r in folder_runs]
        table.append(
            {
                "file": f.name,
                "dags": in_folder[0]["dags"],
                "tasks": in_folder[0]["tasks"],
                "seconds": median(s["seconds"] for s in in_folder),
                "seconds_alone": median(r["files"][f.name]["seconds"] for r in runs[f.name]),
            }
        )
    total = median(r["dagbag_s"] for r in folder_runs)  # the DagBag of the folder, files and collection
    alone = sum(row["seconds_alone"] for row in table)
    met = "met" if total < GOAL_SECONDS else "NOT met"

    airflow_import = median(r["import_airflow_s"] for r in folder_runs)
    print(
        f"DAG parse time of {settings.DAGS_DIR.relative_to(settings.ROOT)}/, median of {args.repeat} fresh "
        f"processes (Airflow imported before the clock starts: {airflow_import:.1f} s)"
    )
    print(f"  {'file':<24} {'DAGs':>5} {'tasks':>6} {'seconds':>8} {'alone':>8}")
    for row in table:
        print(
            f"  {row['file']:<24} {row['dags']:>5} {row['tasks']:>6} {row['seconds']:>8.3f} "
            f"{row['seconds_alone']:>8.3f}"
        )
    print(
        f"  {'total (DagBag of dags/)':<24} {sum(r['dags'] for r in table):>5} {sum(r['tasks'] for r in table):>6} "
        f"{total:>8.3f} {alone:>8.3f}   goal < {GOAL_SECONDS:.0f} s: {met}"
    )
    print(
        "  seconds: Airflow's duration for the file within one DagBag of the folder (imports shared by the files\n"
        "  paid by the first); alone: the file in a DagBag of its own, in its own process, as the DAG processor\n"
        "  parses it"
    )

    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {
                "repeat": args.repeat,
                "machine": machine,
                "goal_seconds": GOAL_SECONDS,
                "files": table,
                "total_seconds": total,
                "goal_met": total < GOAL_SECONDS,
                "total_seconds_each_file_alone": alone,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
