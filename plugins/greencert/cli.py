"""`greencert` — the project's command line. `greencert --help` lists the commands."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from rich.text import Text
from rich_argparse import RichHelpFormatter

from greencert import settings, terminal_progress
from greencert.terminal_text import visible

if TYPE_CHECKING:
    from greencert.serve.rest import AirflowREST
    from greencert.serve.stack import Stack

DEFAULT_AS_OF = "2025-06-30"


def standins(module: str, needed_by: str) -> ModuleType:
    """A module of the outside world's stand-ins (plugins/standins: sample data, the stand-in source
    API), imported when a command needs it: they are the demo's and the tests', not the product's, so
    the wheel and the image leave them out."""
    try:
        return importlib.import_module(f"standins.{module}" if module else "standins")
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] != "standins":
            raise
        raise SystemExit(
            f"greencert {needed_by}: needs the stand-ins (plugins/standins: sample data, the stand-in "
            "source API), which are not installed here: they come with a checkout (make install), "
            "not with the greencert wheel or image"
        ) from None


def _setup(database: str = settings.DATABASE) -> dict[str, str]:
    from greencert import warehouse

    with terminal_progress.task("warehouse: start or connect, roles, functions"):  # initdb on a first run takes a while
        return warehouse.setup(database)


def _ready() -> dict[str, str]:
    """The warehouse, the dbt manifest Cosmos renders from and Airflow's metadata DB, all ready."""
    from greencert import subprocesses

    urls = _setup()
    with terminal_progress.task("dbt parse"):
        subprocesses.dbt_parse()
    return urls


def _step(msg: str) -> float:
    print(f"==> {msg}", flush=True)
    return time.monotonic()


def cmd_setup(args: argparse.Namespace) -> int:
    if args.warehouse_only:
        # a deployment (docker-compose.yml's greencert-init): its own Airflow metadata DB is migrated
        # by `airflow db migrate`, the roles' passwords come from its secrets; nothing under var/
        from urllib.parse import urlsplit

        p = urlsplit(_setup()["bi_reader"])
        print(f"Warehouse bootstrapped: {p.hostname}:{p.port}/{p.path.lstrip('/')} (roles, schemas, grants)")
        return 0
    from greencert import warehouse

    urls = _ready()
    _print_connect(urls, warehouse.write_pgpass(urls))
    return 0


def _generate(day: date, seed: int, dropbox: Path = settings.DROPBOX) -> list[Path]:
    """write_all, with a bar over the feeds."""
    from greencert import feeds

    write_all = standins("", "generate").write_all
    with terminal_progress.task(f"generate {day}", total=len(feeds.registry()), unit="feeds") as bar:
        return write_all(day, seed, dropbox, on_feed=lambda i, name: bar.update(completed=i, note=name))


def _generate_national(day: date, path: Path, seed: int, chains: int, delta: bool) -> tuple[Path, int]:
    """national.write, with a bar over the chains (updated per block of BLOCK chains)."""
    national = standins("national", "generate --scale national")
    rows = 0
    what = f"certificates {'delta' if delta else 'full'}"
    with terminal_progress.task(what, total=chains, unit="chains", eta=True) as bar:

        def on_block(block_chains: int, block_rows: int) -> None:
            nonlocal rows
            rows += block_rows
            bar.update(advance=block_chains, note=f"{rows:,} rows")

        return national.write(day, path, seed, chains, delta=delta, on_block=on_block)


def cmd_generate(args: argparse.Namespace) -> int:
    day = date.fromisoformat(args.as_of)
    if args.scale == "national":
        national = standins("national", "generate --scale national")
        folder = Path(args.out or settings.VAR / "national") / "certificates"
        for kind, delta in (("", False), ("delta_", True)):
            started = time.monotonic()
            path, rows = _generate_national(
                day,
                folder / f"certificates_national_{kind}{day:%Y%m%d}.csv",
                args.seed,
                args.chains or national.CHAINS,
                delta,
            )
            print(f"{visible(path)}  {rows} rows  {time.monotonic() - started:.1f}s", flush=True)
        return 0
    for path in _generate(day, args.seed, Path(args.out or settings.DROPBOX)):
        print(visible(path))
    return 0


def _by_folder(paths: list[Path]) -> list[str]:
    """One line per folder written (a feed's drop folder or API store): its number of files."""
    counts = Counter(path.parent for path in paths)  # in the order written: the registry's
    width = max(len(folder.name) for folder in counts)
    return [
        f"{visible(folder.name):<{width}} {n:>3} {'file' if n == 1 else 'files':<5}  {visible(folder)}"
        for folder, n in counts.items()
    ]


def run_day(as_of: str, urls: dict[str, str], client: AirflowREST, seed: int = 2022) -> None:
    """Generate the day's files, then trigger the real DAGs on the running Airflow for that date."""
    from greencert import feeds
    from greencert.serve import runs

    t = _step(f"generate sample feeds for {as_of} (seed {seed})")
    for line in _by_folder(_generate(date.fromisoformat(as_of), seed)):
        print(f"    {line}")
    print(f"    {time.monotonic() - t:.1f}s")
    total = len(feeds.registry()) + 1
    t = _step(f"trigger, for {as_of}: {total - 1} ingest DAGs side by side, then greencert_nightly (REST API)")
    with terminal_progress.task("airflow", total=total, unit="DAGs") as bar:
        done = 0

        def on_done(run: runs.Finished) -> None:
            nonlocal done
            done += 1
            print(f"    {run.dag_id} {as_of}: {run.state} after {run.seconds:.1f}s", flush=True)
            bar.update(completed=done, note=run.dag_id.removeprefix("greencert_"))

        finished = runs.run_day(client, date.fromisoformat(as_of), on_done)
    print(f"    {time.monotonic() - t:.1f}s")
    if runs.failed(finished):
        print(
            f"    failed: {', '.join(runs.failed(finished))} (their logs: the Airflow UI, or "
            f"{settings.AIRFLOW_HOME / 'logs'})"
        )
    from greencert.quality.summary import gate_summary

    for line in gate_summary(urls["loader"], date.fromisoformat(as_of)).splitlines():
        print(f"    {line}")


def _start_source_api(needed_by: str) -> Any:
    """The stand-in of the sources' HTTP API (a standins.api_server.StandinAPI), serving the http
    feeds while the demo runs."""
    from greencert import feeds

    api = standins("api_server", needed_by).StandinAPI(settings.API_STORE, settings.API_PORT).start()
    http_feeds = [name for name, feed in feeds.registry().items() if feed.connector == "http"]
    print(f"==> stand-in source API on {api.base}, serving the http feeds: {', '.join(http_feeds)}")
    return api


def cmd_source_api(args: argparse.Namespace) -> int:
    api = standins("api_server", "source-api").StandinAPI(Path(args.store), args.port, args.host)
    api.set_faults(script=[f for f in args.faults.split(",") if f], shift=args.shift)
    print(f"stand-in source API on {api.base}, serving {args.store}/<feed>/*.csv (Ctrl-C stops)", flush=True)
    try:
        api.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _stack(urls: dict[str, str], args: argparse.Namespace, schedules: bool) -> Stack:
    from greencert import warehouse
    from greencert.serve.stack import Stack

    return Stack(
        urls, warehouse.admin_url(), port=args.port, executor=args.executor, workers=args.workers, schedules=schedules
    )


def _print_ui(stack: Stack) -> None:
    print(
        f"==> Airflow UI and REST API: {stack.base_url}  (user {stack.client().username}; password: "
        f"the value in {stack.password_file})"
    )
    print(
        "    times in the UI: its user menu → Timezone (it starts from the browser's); "
        f"the DAGs' schedules are {settings.TIMEZONE}"
    )


def cmd_serve(args: argparse.Namespace) -> int:
    import signal

    t = _step("start the warehouse, compile the dbt manifest")
    urls = _ready()
    print(f"    {time.monotonic() - t:.1f}s")
    api = _start_source_api("serve (or --no-source-api)") if args.source_api else None
    stack = _stack(urls, args, schedules=not args.no_schedules)
    t = _step(
        f"start Airflow ({args.executor}): api-server, scheduler, dag-processor, triggerer"
        + (f", {args.workers} Celery workers and a Redis broker" if args.executor == "CeleryExecutor" else "")
    )
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        with terminal_progress.task("airflow: waiting for every component to report healthy"):
            stack.start()
        print(f"    {time.monotonic() - t:.1f}s; logs in {stack.log_dir}")
        _print_ui(stack)
        print(
            "    "
            + (
                "schedules on: DAGs start paused; unpause them in the UI to run on their schedules"
                if not args.no_schedules
                else "schedules off: only runs triggered in the UI or API run"
            )
        )
        print("==> running; Ctrl-C (or SIGTERM) stops every component", flush=True)
        while not stopping:
            dead = [name for name, up in stack.alive().items() if not up]
            if dead:
                print(
                    f"airflow {dead[0]} exited: see {visible(stack.log_dir / (dead[0] + '.log'))}\n"
                    + "\n".join(visible(line) for line in stack.tail(dead[0]).splitlines())
                )
                return 1
            time.sleep(1)
        return 0
    finally:
        print("==> stopping Airflow", flush=True)
        stack.stop()
        if api is not None:
            api.stop()


def report_files(day: date) -> tuple[Path, Path]:
    """Where the nightly's report task wrote a date's report (the demo prints it): settings.REPORTS,
    which the Airflow environment hands on to the tasks (environment.airflow_env)."""
    folder = settings.REPORTS / day.isoformat()
    return folder / "report.html", folder / "report.xlsx"


def cmd_demo(args: argparse.Namespace) -> int:
    from greencert.report.progress_table import progress_table

    t = _step("start the warehouse (embedded PostgreSQL unless WAREHOUSE_URL is set) and its roles")
    urls = _ready()
    print(f"    {time.monotonic() - t:.1f}s")
    api = _start_source_api("demo")
    stack = _stack(urls, args, schedules=False)
    t = _step(f"start Airflow as deployed ({args.executor}; the scheduler runs only the runs triggered here)")
    try:
        with terminal_progress.task("airflow: waiting for every component to report healthy"):
            stack.start()
        print(f"    {time.monotonic() - t:.1f}s")
        _print_ui(stack)
        client = stack.client()
        for as_of in args.as_of:
            run_day(as_of, urls, client, args.seed)
    finally:
        stack.stop()
        api.stop()
    last = date.fromisoformat(args.as_of[-1])
    print()
    print(progress_table(urls["bi_reader"], last))
    print(f"Published: {last} (bi.target_progress); quarantined rows: greencert quarantine --date {args.as_of[0]}")
    html, xlsx = report_files(last)
    print(f"Report ({last}, written by the nightly's report task): {visible(html)}")
    print(f"                     workbook for the office: {visible(xlsx)}")
    for region in args.region or []:
        print()
        print(progress_table(urls["bi_reader"], last, region))
    print()
    from greencert import warehouse

    _print_connect(urls, warehouse.write_pgpass(urls))
    print("Watch the runs in the UI: greencert serve (it keeps the same metadata database)")
    return 0


def cmd_progress(args: argparse.Namespace) -> int:
    from greencert.report.progress_table import progress_table

    urls = _setup()
    print(progress_table(urls["bi_reader"], date.fromisoformat(args.as_of), args.region))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from greencert.report.write import write_report

    urls = _setup()
    files = write_report(urls["transformer"], date.fromisoformat(args.as_of))
    print(visible(files.html))
    print(visible(files.xlsx))
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
            (args.target.upper(), day, args.explanation),
        )
    print(
        f"{visible(args.target.upper())} on {day}: the drop is explained; "
        f"rerun greencert_nightly for {day} to publish it"
    )
    return 0


def cmd_airflow(args: argparse.Namespace) -> int:
    """Run any airflow command against the Airflow home, metadata DB and connections `serve` uses."""
    from greencert import subprocesses, warehouse
    from greencert.serve.stack import Stack

    env = Stack(_ready(), warehouse.admin_url()).env()
    return subprocesses.airflow(args.rest, env, check=False).returncode


def cmd_dbt_parse(args: argparse.Namespace) -> int:
    from greencert import subprocesses

    print(subprocesses.dbt_parse())
    return 0


def cmd_dbt_sources(args: argparse.Namespace) -> int:
    from greencert.feeds import dbt_sources

    changed = dbt_sources.stale() if args.check else dbt_sources.write()
    for path in changed:
        print(f"{'stale' if args.check else 'wrote'} dbt_project/{path}")
    return 1 if args.check and changed else 0


def cmd_warehouse(args: argparse.Namespace) -> int:
    if args.action == "stop":
        from greencert.warehouse import server

        server.stop()
        print("embedded warehouse stopped")
        return 0
    from greencert import warehouse

    urls = _setup()
    _print_connect(urls, warehouse.write_pgpass(urls))
    return 0


def _print_connect(urls: dict[str, str], pgpass: Path) -> None:
    """Where the warehouse is and how to open it with psql (the roles' passwords in `pgpass`), without
    printing a password."""
    from urllib.parse import urlsplit

    p = urlsplit(urls["bi_reader"])
    where = "WAREHOUSE_URL" if os.environ.get("WAREHOUSE_URL") else f"embedded PostgreSQL, data in {settings.PGDATA}"
    db = p.path.lstrip("/")
    print(f"Warehouse: {where}")
    print(f"  host {p.hostname}  port {p.port}  database {db}  (BI reads schema bi as greencert_bi_reader)")
    print(
        f"  BI connection string: postgresql://greencert_bi_reader@{p.hostname}:{p.port}/{db}"
        f"  (password: the greencert_bi_reader line of {pgpass})"
    )
    print(f"  psql:  PGPASSFILE={pgpass} psql -h {p.hostname} -p {p.port} -U greencert_bi_reader {db}")
    print(f"  the roles' passwords: {pgpass} (git-ignored, mode 0600)")


class HelpFormatter(RichHelpFormatter):
    """rich-argparse's help, wrapping each paragraph but keeping indented lines (examples) as written."""

    help_markup = text_markup = False  # the help texts are plain text: a [bracket] is not rich markup

    def _rich_fill_text(self, text: Text, width: int, indent: Text) -> Text:  # rich-argparse 1.x (pyproject: <2)
        paragraphs = []
        for para in text.split("\n\n"):
            lines = para.split("\n")
            if any(line.plain.startswith("  ") for line in lines):
                paragraphs.append(Text("\n").join(indent + line for line in lines))
            else:
                paragraphs.append(super()._rich_fill_text(para, width, indent)[:-2])  # less its "\n\n"
        return Text("\n\n").join(paragraphs) + "\n\n"


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="greencert",
        formatter_class=HelpFormatter,
        description="The command line of greencert, the warehouse that tells Suzhou every night how far it stands "
        "from each 2025 target of its green-certification policy. `greencert COMMAND --help` describes each "
        "command. Long commands show their progress on stderr when it is a terminal.",
        epilog=_examples(
            "greencert demo --as-of 2025-06-30 2025-07-01 --region 320571",
            "greencert progress --as-of 2025-06-30",
            "greencert quarantine --feed certificates --date 2025-06-30",
            "greencert serve",
        ),
    )
    sub = p.add_subparsers(
        dest="command",
        required=True,
        title="commands",
        metavar="COMMAND",
        help="one of these; `greencert COMMAND --help` for its options",
    )

    def command(
        name: str, func: Callable[[argparse.Namespace], int], help: str, description: str, epilog: str | None = None
    ) -> argparse.ArgumentParser:
        s = sub.add_parser(name, help=help, description=description, epilog=epilog, formatter_class=HelpFormatter)
        s.set_defaults(func=func)
        return s

    def airflow_options(s: argparse.ArgumentParser) -> None:
        s.add_argument(
            "--port",
            type=int,
            default=settings.AIRFLOW_PORT,
            help="the UI and REST API on 127.0.0.1 (default %(default)s, GREENCERT_AIRFLOW_PORT)",
        )
        s.add_argument(
            "--executor",
            choices=["LocalExecutor", "CeleryExecutor"],
            default="LocalExecutor",
            help="LocalExecutor: the scheduler runs the tasks (default); CeleryExecutor: Celery "
            "workers take them from a Redis broker on loopback (Debian's redis-server: make redis)",
        )
        s.add_argument(
            "--workers",
            type=int,
            default=2,
            metavar="N",
            help="Celery workers to start with CeleryExecutor (default %(default)s)",
        )

    s = command(
        "serve",
        cmd_serve,
        "run Airflow as deployed, on loopback, until Ctrl-C: the way to watch the DAGs",
        "Start the warehouse, the stand-in source API and Airflow's api-server, scheduler, DAG processor "
        "and triggerer as separate processes (Celery workers too with --executor CeleryExecutor), with "
        "Airflow's metadata in PostgreSQL (a database of its own on the warehouse's server) and one "
        "Fernet key and JWT secret for all (var/secrets/airflow.json, generated once). Prints the UI's "
        "address and where the admin's password is; the DAGs start paused. Ctrl-C stops every component. "
        "The demo uses the same Airflow home and metadata DB, so its runs show here.",
        _examples(
            "greencert serve",
            "greencert serve --executor CeleryExecutor --workers 2",
            "greencert serve --no-schedules   # only runs triggered in the UI or the REST API",
        ),
    )
    airflow_options(s)
    s.add_argument(
        "--no-schedules", action="store_true", help="the scheduler creates no scheduled runs: only triggered ones run"
    )
    s.add_argument(
        "--no-source-api",
        dest="source_api",
        action="store_false",
        help="do not start the stand-in source API (the greencert_source_api connection points elsewhere)",
    )

    s = command(
        "demo",
        cmd_demo,
        "generate sample data, run the real DAGs through Airflow, print progress",
        "Start the warehouse (embedded PostgreSQL unless WAREHOUSE_URL is set) and the stand-in source "
        "API; then, for each date in order: generate every feed's sample data, run each feed's ingest DAG "
        "side by side, then the nightly DAG, on Airflow run as deployed (`greencert serve`'s stack, "
        "triggered through its REST API as the UI's Trigger button does) and print what the "
        "data-quality gates did. Ends with the published target progress and how to connect a BI tool.",
        _examples("greencert demo", "greencert demo --as-of 2025-06-30 2025-07-01 --region 320571"),
    )
    s.add_argument(
        "--as-of",
        nargs="+",
        default=[DEFAULT_AS_OF],
        metavar="YYYY-MM-DD",
        help=f"snapshot date(s), run in order (default {DEFAULT_AS_OF})",
    )
    s.add_argument(
        "--seed",
        type=int,
        default=2022,
        help="sample-data seed: the same seed and date give the same files (default %(default)s)",
    )
    s.add_argument(
        "--region",
        action="append",
        metavar="CODE",
        help="also print this region's progress (e.g. 320571); may be repeated",
    )
    airflow_options(s)

    s = command(
        "setup",
        cmd_setup,
        "start/bootstrap the warehouse, compile the dbt manifest, migrate Airflow's DB",
        "Start the embedded PostgreSQL (or bootstrap the server of WAREHOUSE_URL) with its roles, schemas and "
        "functions, compile the dbt manifest the nightly DAG is rendered from, create or upgrade Airflow's "
        "metadata DB, and print the connection settings. The other commands do this themselves as needed.",
    )
    s.add_argument(
        "--warehouse-only",
        action="store_true",
        help="only bootstrap the warehouse (WAREHOUSE_URL): no dbt parse, no local Airflow DB, no "
        "password file; what a deployment's init runs after `airflow db migrate` (docker-compose.yml)",
    )

    s = command(
        "generate",
        cmd_generate,
        "write every feed's sample data for a date: files feeds into the drop "
        "folders, http feeds into the stand-in API's store",
        "Write the deterministic sample data of every feed for a date, exactly to the sources' contracts: "
        "a files feed's CSV/XLSX into its drop folder, an http feed's records into the stand-in API's "
        "store (served by `greencert source-api`). Prints the paths written. --scale national writes the "
        "certificates feed only, at the scale of China (~5 M rows), for the benchmarks.",
        _examples(
            "greencert generate --as-of 2025-06-30",
            "greencert generate --as-of 2025-06-30 --scale national --chains 100000",
        ),
    )
    s.add_argument("--as-of", required=True, metavar="YYYY-MM-DD", help="the date the data describes (required)")
    s.add_argument(
        "--seed",
        type=int,
        default=2022,
        help="sample-data seed: the same seed and date give byte-identical files (default %(default)s)",
    )
    s.add_argument(
        "--out",
        metavar="DIR",
        help=f"drop folders' root (default {settings.DROPBOX}); with --scale "
        f"national, where certificates/ is written (default {settings.VAR / 'national'})",
    )
    s.add_argument(
        "--scale",
        choices=["suzhou", "national"],
        default="suzhou",
        help="suzhou: every feed (default); national: the certificates feed only, ~5 M certificates, "
        "the full file for the date and its delta (what changed since the day before), for benchmarks",
    )
    s.add_argument(
        "--chains",
        type=int,
        metavar="N",
        help="with --scale national: certification chains to draw (default 3,600,000, ~5 M "
        "certificates); fewer for a quicker, smaller file",
    )

    s = command(
        "progress",
        cmd_progress,
        "print the published target progress for a date",
        "Print the published progress of every target and indicator for a snapshot date and region, from "
        "the `bi` views: actual, target, percent of target, the straight-line trajectory and the status "
        "(达标 / 进度正常 / 滞后).",
        _examples("greencert progress --as-of 2025-06-30 --region 320571"),
    )
    s.add_argument("--as-of", default=DEFAULT_AS_OF, metavar="YYYY-MM-DD", help="snapshot date (default %(default)s)")
    s.add_argument(
        "--region", default="320500", metavar="CODE", help="region code, e.g. 320571 (default %(default)s, the city)"
    )

    s = command(
        "report",
        cmd_report,
        "write a published snapshot date's report again: var/reports/<date>/report.html and report.xlsx",
        "What the nightly's report task writes after each publish: an HTML page (progress bars, region × "
        "target heat map, trends against the trajectory, data quality) and an XLSX workbook (targets, one "
        "sheet per region, data quality), from the published history.",
        _examples("greencert report --as-of 2025-07-01"),
    )
    s.add_argument(
        "--as-of", default=DEFAULT_AS_OF, metavar="YYYY-MM-DD", help="a published snapshot date (default %(default)s)"
    )

    s = command(
        "quarantine",
        cmd_quarantine,
        "list the batches of a feed and date and every row the row rules set aside",
        "Each quarantined row with its file, row number, column, rule and value: fix the source and drop "
        "the corrected file again (a changed file is a new batch).",
        _examples("greencert quarantine --feed certificates --date 2025-06-30"),
    )
    s.add_argument("--feed", help="one feed of plugins/greencert/feeds/registry.yml (default: every feed)")
    s.add_argument("--date", metavar="YYYY-MM-DD", help="landing date (default: every date)")
    s.add_argument("--limit", type=int, default=50, help="rows to list (default %(default)s)")

    s = command(
        "explain-drop",
        cmd_explain_drop,
        "record why a city total fell sharply, so the mart gate lets it through",
        "The mart gate refuses a build whose city total for a target falls more than "
        "GREENCERT_MAX_DROP_SHARE (default 10%) below the last published snapshot, unless the drop is "
        "explained here (e.g. a mass expiry or a source correction). Rerun greencert_nightly for the date "
        "afterwards.",
        _examples('greencert explain-drop T06 2025-07-01 "a body withdrew 900 EMS certificates"'),
    )
    s.add_argument("target", help="target or indicator id, e.g. T06")
    s.add_argument("date", metavar="YYYY-MM-DD", help="the snapshot date of the build that dropped")
    s.add_argument("explanation", help="why, in a sentence")

    s = command(
        "airflow",
        cmd_airflow,
        "run an airflow command with this checkout's home and connections",
        "Run any Airflow CLI command with the Airflow home (var/airflow), metadata database, DAG folder "
        "and connections that `greencert serve` uses; the warehouse is started first.",
        _examples(
            "greencert airflow dags list-runs greencert_nightly",
            "greencert airflow dags list",
            "greencert airflow dags test greencert_nightly 2025-06-30",
        ),
    )
    s.add_argument(
        "rest",
        nargs=argparse.REMAINDER,
        metavar="ARGS",
        help="the airflow command and its arguments, passed on as they are",
    )

    s = command(
        "source-api",
        cmd_source_api,
        "run the stand-in of the sources' HTTP API in the foreground",
        "Serves what `greencert generate` wrote for the http feeds through the sources' API contract. "
        "Faults can also be set while it runs: POST /_faults "
        '{"script": ["429", "500", "slow"], "slow_s": 5, "shift": 2}.',
        _examples("greencert source-api --faults 429,500,slow --shift 2"),
    )
    s.add_argument("--port", type=int, default=settings.API_PORT, help="default %(default)s (GREENCERT_API_PORT)")
    s.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default %(default)s; 0.0.0.0 in a container of a test stack)",
    )
    s.add_argument(
        "--store",
        default=str(settings.API_STORE),
        metavar="DIR",
        help="folder of <feed>/*.csv to serve (default %(default)s)",
    )
    s.add_argument(
        "--faults",
        default="",
        metavar="LIST",
        help="answers to the next requests, comma-separated: 429, 500, 502, 503, 504, slow, ok",
    )
    s.add_argument(
        "--shift",
        type=int,
        default=0,
        metavar="N",
        help="inject N updates while a client pages (records move, total changes)",
    )

    command(
        "dbt-parse",
        cmd_dbt_parse,
        "compile the dbt manifest that Cosmos renders from",
        "Compile dbt_project/target/manifest.json (dbt parse, no database needed), from which Cosmos renders "
        "the nightly DAG's tasks, and print its path. The demo, setup and airflow commands do it first.",
    )

    s = command(
        "dbt-sources",
        cmd_dbt_sources,
        "write dbt's sources and base models from the feed registry",
        "Write each feed's dbt source (models/staging/<feed>/_<feed>__sources.yml), its accepted-rows base "
        "model (base_<feed>__accepted_rows) and the loader's source (models/staging/loader/) from "
        "plugins/greencert/feeds/registry.yml, and print the files that changed. Run it after editing "
        "the registry and commit the result; a unit test fails while they differ.",
        _examples("greencert dbt-sources", "greencert dbt-sources --check   # exit 1 if any is stale"),
    )
    s.add_argument("--check", action="store_true", help="write nothing; list the stale files, exit 1 if any")

    s = command(
        "warehouse",
        cmd_warehouse,
        "show connection settings, or stop the embedded server",
        "Print the warehouse's connection settings (host, port, database, the psql command, the "
        "git-ignored password file), starting the embedded PostgreSQL if needed; or stop it.",
        _examples("greencert warehouse", "greencert warehouse stop"),
    )
    s.add_argument(
        "action",
        choices=["info", "stop"],
        nargs="?",
        default="info",
        help="info: print the connection settings (default); stop: stop the embedded PostgreSQL",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore")
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
