"""`greencert` — the project's command line. `greencert --help` lists the commands."""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from greencert import settings

if TYPE_CHECKING:
    from greencert.generate.api_server import StandinAPI

DEFAULT_AS_OF = "2025-06-30"


def _setup(database: str = settings.DATABASE) -> dict[str, str]:
    from greencert import warehouse

    return warehouse.setup(database)


def _step(msg: str) -> float:
    print(f"==> {msg}", flush=True)
    return time.monotonic()


def cmd_setup(args: argparse.Namespace) -> int:
    from greencert import runtime

    urls = _setup()
    runtime.dbt_parse()
    runtime.airflow_db_ready(runtime.airflow_env(urls))
    _print_connect(urls)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    if args.scale == "national":
        from greencert.generate import national

        day = date.fromisoformat(args.as_of)
        folder = Path(args.out or settings.VAR / "national") / "certificates"
        for kind, delta in (("", False), ("delta_", True)):
            started = time.monotonic()
            path, rows = national.write(day, folder / f"certificates_national_{kind}{day:%Y%m%d}.csv", args.seed,
                                        delta=delta)
            print(f"{path}  {rows} rows  {time.monotonic() - started:.1f}s", flush=True)
        return 0
    from greencert.generate import write_all

    for path in write_all(date.fromisoformat(args.as_of), args.seed, Path(args.out or settings.DROPBOX)):
        print(path)
    return 0


def run_day(as_of: str, urls: dict[str, str], seed: int = 2022) -> None:
    """Generate the day's files, then run the real DAGs through Airflow for that date."""
    from greencert import feeds, runtime
    from greencert.generate import write_all
    from greencert.orchestration import ingest, nightly

    env = runtime.airflow_env(urls)
    t = _step(f"generate sample feeds for {as_of} (seed {seed})")
    for path in write_all(date.fromisoformat(as_of), seed):
        print(f"    {path}")
    print(f"    {time.monotonic() - t:.1f}s")
    dag_ids = [ingest.dag_id(feed) for feed in feeds.registry().values()] + [nightly.DAG_ID]
    t = _step(f"airflow dags test, for {as_of}: {len(dag_ids) - 1} ingest DAGs, then {nightly.DAG_ID}")
    # one Airflow process runs them all in order (DAG.test(), as `airflow dags test` does for one)
    out = runtime.dags_test(dag_ids, as_of, {"as_of_date": as_of}, env)
    for line in out.splitlines():
        if line.startswith("==> "):
            print(f"    {line[4:]}")
    print(f"    {time.monotonic() - t:.1f}s")
    from greencert.quality.summary import gate_summary

    for line in gate_summary(urls["loader"], date.fromisoformat(as_of)).splitlines():
        print(f"    {line}")


def _start_source_api() -> StandinAPI:
    """The stand-in of the sources' HTTP API, serving the http feeds while the demo runs."""
    from greencert import feeds
    from greencert.generate.api_server import StandinAPI

    api = StandinAPI(settings.API_STORE, settings.API_PORT).start()
    http_feeds = [name for name, feed in feeds.registry().items() if feed.connector == "http"]
    print(f"==> stand-in source API on {api.base}, serving the http feeds: {', '.join(http_feeds)}")
    return api


def cmd_source_api(args: argparse.Namespace) -> int:
    from greencert.generate.api_server import StandinAPI

    api = StandinAPI(Path(args.store), args.port)
    api.set_faults(script=[f for f in args.faults.split(",") if f], shift=args.shift)
    print(f"stand-in source API on {api.base}, serving {args.store}/<feed>/*.csv (Ctrl-C stops)", flush=True)
    try:
        api.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from greencert import runtime
    from greencert.report.progress import progress_table

    t = _step("start the warehouse (embedded PostgreSQL unless WAREHOUSE_URL is set) and its roles")
    urls = _setup()
    runtime.dbt_parse()
    runtime.airflow_db_ready(runtime.airflow_env(urls))
    print(f"    {time.monotonic() - t:.1f}s")
    api = _start_source_api()
    for as_of in args.as_of:
        run_day(as_of, urls, args.seed)
    api.stop()
    last = date.fromisoformat(args.as_of[-1])
    print()
    print(progress_table(urls["bi_reader"], last))
    print(f"Published: {last} (bi.target_progress); quarantined rows: greencert quarantine --date {args.as_of[0]}")
    folder = settings.REPORTS / last.isoformat()
    print(f"Report ({last}, written by the nightly's report task): {folder / 'report.html'}")
    print(f"                     workbook for the office: {folder / 'report.xlsx'}")
    for region in args.region or []:
        print()
        print(progress_table(urls["bi_reader"], last, region))
    print()
    _print_connect(urls)
    return 0


def cmd_progress(args: argparse.Namespace) -> int:
    from greencert.report.progress import progress_table

    urls = _setup()
    print(progress_table(urls["bi_reader"], date.fromisoformat(args.as_of), args.region))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from greencert.report.write import write_report

    urls = _setup()
    files = write_report(urls["transformer"], date.fromisoformat(args.as_of))
    print(files.html)
    print(files.xlsx)
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    from greencert.quality.summary import quarantine_listing

    if args.feed:
        from greencert import feeds

        feeds.get(args.feed)  # a clear error naming the known feeds
    urls = _setup()
    day = date.fromisoformat(args.date) if args.date else None
    print(quarantine_listing(urls["loader"], day, args.feed, args.limit))
    return 0


def cmd_explain_drop(args: argparse.Namespace) -> int:
    import psycopg

    urls = _setup()
    day = date.fromisoformat(args.date)
    with psycopg.connect(urls["loader"]) as conn:
        conn.execute(
            """insert into dq.explained_drops (target_id, as_of_date, explanation) values (%s, %s, %s)
               on conflict (target_id, as_of_date) do update set explanation = excluded.explanation,
                   explained_by = current_user, explained_at = now()""",
            (args.target.upper(), day, args.explanation))
    print(f"{args.target.upper()} on {day}: the drop is explained; rerun greencert_nightly for {day} to publish it")
    return 0


def cmd_airflow(args: argparse.Namespace) -> int:
    """Run any airflow command against this checkout's Airflow home and connections."""
    from greencert import runtime

    urls = _setup()
    env = runtime.airflow_env(urls)
    runtime.dbt_parse()
    runtime.airflow_db_ready(env)
    return runtime.airflow(args.rest, env, check=False).returncode


def cmd_dbt_parse(args: argparse.Namespace) -> int:
    from greencert import runtime

    print(runtime.dbt_parse())
    return 0


def cmd_warehouse(args: argparse.Namespace) -> int:
    if args.action == "stop":
        from greencert.warehouse import server

        server.stop()
        print("embedded warehouse stopped")
        return 0
    _print_connect(_setup())
    return 0


def _print_connect(urls: dict[str, str]) -> None:
    """Where the warehouse is and how to open it with psql, without printing a password."""
    from urllib.parse import unquote, urlsplit

    pgpass = settings.SECRETS_FILE.with_name("pgpass")
    lines = []
    for url in urls.values():
        p = urlsplit(url)
        lines.append(f"{p.hostname}:{p.port}:{p.path.lstrip('/')}:{unquote(p.username or '')}:"
                     f"{unquote(p.password or '')}")
    pgpass.write_text("\n".join(lines) + "\n")
    pgpass.chmod(0o600)
    p = urlsplit(urls["bi_reader"])
    where = "WAREHOUSE_URL" if os.environ.get("WAREHOUSE_URL") else f"embedded PostgreSQL, data in {settings.PGDATA}"
    db = p.path.lstrip("/")
    print(f"Warehouse: {where}")
    print(f"  host {p.hostname}  port {p.port}  database {db}  (BI reads schema bi as greencert_bi_reader)")
    print(f"  psql:  PGPASSFILE={pgpass} psql -h {p.hostname} -p {p.port} -U greencert_bi_reader {db}")
    print(f"  the roles' passwords: {pgpass} (git-ignored, mode 0600)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="greencert", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("demo", help="generate sample data, run the real DAGs through Airflow, print progress")
    s.add_argument("--as-of", nargs="+", default=[DEFAULT_AS_OF], metavar="YYYY-MM-DD",
                   help="snapshot date(s), run in order (default %(default)s)")
    s.add_argument("--seed", type=int, default=2022, help="sample-data seed")
    s.add_argument("--region", action="append", metavar="CODE", help="also print this region (e.g. 320571)")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("setup", help="start/bootstrap the warehouse, compile the dbt manifest, migrate Airflow's DB")
    s.set_defaults(func=cmd_setup)

    s = sub.add_parser("generate", help="write every feed's sample data for a date: files feeds into the drop "
                       "folders, http feeds into the stand-in API's store")
    s.add_argument("--as-of", required=True, metavar="YYYY-MM-DD")
    s.add_argument("--seed", type=int, default=2022)
    s.add_argument("--out", help=f"drop folders' root (default {settings.DROPBOX}); with --scale national, "
                   f"where certificates/ is written (default {settings.VAR / 'national'})")
    s.add_argument("--scale", choices=["suzhou", "national"], default="suzhou",
                   help="suzhou: every feed (default); national: the certificates feed only, ~5 M certificates, "
                   "the full file for the date and its delta (what changed since the day before), for benchmarks")
    s.set_defaults(func=cmd_generate)

    s = sub.add_parser("progress", help="print the published target progress for a date")
    s.add_argument("--as-of", default=DEFAULT_AS_OF, metavar="YYYY-MM-DD")
    s.add_argument("--region", default="320500", metavar="CODE", help="region code (default: the city)")
    s.set_defaults(func=cmd_progress)

    s = sub.add_parser("report", help="write a published snapshot date's report again: reports/<date>/report.html "
                       "and report.xlsx", description="What the nightly's report task writes after each publish: "
                       "an HTML page (progress bars, region × target heat map, trends against the trajectory, data "
                       "quality) and an XLSX workbook (targets, one sheet per region, data quality).")
    s.add_argument("--as-of", default=DEFAULT_AS_OF, metavar="YYYY-MM-DD", help="a published snapshot date")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("quarantine", help="list the batches of a feed and date and every row the row rules set aside",
                       description="Each quarantined row with its file, row number, column, rule and value: fix "
                       "the source and drop the corrected file again (a changed file is a new batch).")
    s.add_argument("--feed", help="one feed (default: every feed)")
    s.add_argument("--date", metavar="YYYY-MM-DD", help="landing date (default: every date)")
    s.add_argument("--limit", type=int, default=50, help="rows to list (default %(default)s)")
    s.set_defaults(func=cmd_quarantine)

    s = sub.add_parser("explain-drop", help="record why a city total fell sharply, so the mart gate lets it through",
                       description="The mart gate refuses a build whose city total for a target falls more than "
                       "GREENCERT_MAX_DROP_SHARE (default 10%) below the last published snapshot, unless the drop "
                       "is explained here (e.g. a mass expiry or a source correction).")
    s.add_argument("target", help="target or indicator id, e.g. T06")
    s.add_argument("date", metavar="YYYY-MM-DD", help="the snapshot date of the build that dropped")
    s.add_argument("explanation", help="why, in a sentence")
    s.set_defaults(func=cmd_explain_drop)

    s = sub.add_parser("airflow", help="run an airflow command with this checkout's home and connections",
                       description="e.g. `greencert airflow standalone` for the UI on http://localhost:8080")
    s.add_argument("rest", nargs=argparse.REMAINDER)
    s.set_defaults(func=cmd_airflow)

    s = sub.add_parser("source-api", help="run the stand-in of the sources' HTTP API in the foreground",
                       description="Serves what `greencert generate` wrote for the http feeds through the sources' "
                       "API contract. Faults can also be set while it runs: POST /_faults "
                       '{"script": ["429", "500", "slow"], "slow_s": 5, "shift": 2}.')
    s.add_argument("--port", type=int, default=settings.API_PORT, help="default %(default)s (GREENCERT_API_PORT)")
    s.add_argument("--store", default=str(settings.API_STORE), help="default %(default)s")
    s.add_argument("--faults", default="", metavar="LIST",
                   help="answers to the next requests, comma-separated: 429, 500, 502, 503, 504, slow, ok")
    s.add_argument("--shift", type=int, default=0, metavar="N",
                   help="inject N updates while a client pages (records move, total changes)")
    s.set_defaults(func=cmd_source_api)

    s = sub.add_parser("dbt-parse", help="compile the dbt manifest that Cosmos renders from")
    s.set_defaults(func=cmd_dbt_parse)

    s = sub.add_parser("warehouse", help="show connection settings, or stop the embedded server")
    s.add_argument("action", choices=["info", "stop"], nargs="?", default="info")
    s.set_defaults(func=cmd_warehouse)
    return p


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore")
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
