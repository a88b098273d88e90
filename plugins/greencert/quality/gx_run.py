"""Run a GX suite against PostgreSQL and record the outcome in dq.validation_runs.

GX Core 1.x chain: file context (expectations/gx) → Postgres data source → table or query asset →
batch definition → suite → ValidationDefinition → Checkpoint. Validation runs as SQL inside the
warehouse; result_format stays SUMMARY so a large table never ships its rows to Python.

One file context serves every gate, so Data Docs show both gates' results; each validation
rewrites its great_expectations.yml and stores (data source, assets, suites, checkpoints). Ingest
runs go side by side (each task a process of its own, Celery workers on one host), so a validation
holds an exclusive lock (flock on expectations/gx/.greencert.lock) from opening the context to its
result being stored: another process waits instead of reading a half-written file (issue 14:
`found duplicate key "data_context_id"`). The lock is per host: workers on several hosts need the
context on storage with working flock, or a context each.
"""

from __future__ import annotations

import fcntl
import html
import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg

from greencert import settings

log = logging.getLogger(__name__)
DATASOURCE = "warehouse"
CONN_VAR = "GREENCERT_GX_CONNECTION"  # GX resolves ${...} from the environment: no secret on disk
# GX logs hundreds of INFO lines per validation (its import alone: one per public API function);
# a task log keeps the gate's summary and failures, and GX's warnings and errors
GX_LOG_LEVEL = os.environ.get("GREENCERT_GX_LOG_LEVEL", "WARNING").upper()


@dataclass(frozen=True)
class Check:
    expectation: str
    column: str | None
    success: bool
    observed: str
    why: str = ""  # the suite's own explanation of the rule (meta.why)
    severity: str = "critical"  # a failed "warning" is recorded and shown but does not fail the gate


@dataclass(frozen=True)
class Outcome:
    suite: str
    target: str
    checks: tuple[Check, ...]

    @property
    def success(self) -> bool:
        """No critical expectation failed (a failed warning does not fail the gate)."""
        return not self.failed

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.success and c.severity == "critical")

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.success and c.severity != "critical")

    def summary(self) -> str:
        ok = sum(c.success for c in self.checks)
        lines = [f"GX suite {self.suite} on {self.target}: {ok}/{len(self.checks)} expectations passed"]
        lines += [
            f"  {'FAILED' if c.severity == 'critical' else 'WARNING'} {c.expectation}({c.column or ''})"
            f"{' — ' + c.why if c.why else ''}: {c.observed}"
            for c in (*self.failed, *self.warnings)
        ]
        return "\n".join(lines)


# GX's session: its uniqueness expectation is a sort and a window over the batch, which PostgreSQL's
# default parallel costs (1000 to start workers, 0.1 per row a worker sends) keep in one process; a
# sorted key is one narrow column, cheap to send, so at these costs the sort runs in the parallel
# workers (1.5 → 1.1 s on 1 M rows, measured side by side). Small tables (the marts) stay serial:
# below min_parallel_table_scan_size no worker is planned at all.
GX_SESSION_OPTIONS = "-c parallel_setup_cost=100 -c parallel_tuple_cost=0.01"


def _sqlalchemy_url(conninfo: str) -> str:
    parts = urlsplit(conninfo)
    query = dict(parse_qsl(parts.query))
    query["options"] = f"{query['options']} {GX_SESSION_OPTIONS}" if query.get("options") else GX_SESSION_OPTIONS
    return urlunsplit(parts._replace(scheme="postgresql+psycopg2", query=urlencode(query)))


# Modules great_expectations imports at its top level for expectations and renderers the gates never
# use: scipy.stats (the KL-divergence and KS-test distribution expectations; 1.5-3.5 s of a fresh
# task's start) and altair (their charts in Data Docs; ~1 s). They are bound lazily: the module
# object is there, and the first use of any attribute of it executes it as a plain import would.
LAZY_MODULES = frozenset({"scipy.stats", "altair"})


class _LazyFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in LAZY_MODULES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def import_gx() -> Any:
    """great_expectations, imported as the gates need it (LAZY_MODULES bound lazily, if GX was not
    imported yet in this process: a preloaded one is used as it is). Safe to call from a thread
    while the main thread does something else (run_raw_gate imports it beside the row rules)."""
    warnings.filterwarnings("ignore", module="great_expectations")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    if "great_expectations" not in sys.modules and not any(isinstance(f, _LazyFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _LazyFinder())
    import great_expectations as gx

    return gx


def context() -> Any:
    gx = import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    _columns_of_a_query_without_running_it()
    ctx = gx.get_context(mode="file", project_root_dir=str(settings.EXPECTATIONS_DIR))
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


def _columns_of_a_query_without_running_it() -> None:
    """GX 1.x reads a query asset's column names (metric table.columns, needed by every
    expectation) by executing the query and fetching its whole result into the worker
    (expectations.metrics.util.column_reflection_fallback, for a TextClause): on a raw batch that
    was every row of it, 10 s and 400 MB at 200 k rows, growing with the batch. The names are in
    the result's description, so the query is asked for none of its rows (`limit 0`): one planning,
    no scan. Other selectables (tables) take GX's own path. Applied once per process."""
    import sqlalchemy as sa
    from great_expectations.expectations.metrics import util as metrics_util

    original = metrics_util.column_reflection_fallback
    if getattr(original, "greencert", False):
        return

    def fallback(selectable: Any, dialect: Any, sqlalchemy_engine: Any, schema_name: str | None = None) -> Any:
        if isinstance(selectable, sa.TextClause) and dialect.name.lower() == "postgresql":
            with sqlalchemy_engine.engine.connect() as connection:
                result = connection.execute(sa.text(f"select * from ({selectable.text}) as greencert_columns limit 0"))
                return [{"name": name} for name in result.keys()]
        return original(selectable, dialect, sqlalchemy_engine, schema_name)

    fallback.greencert = True  # type: ignore[attr-defined]
    metrics_util.column_reflection_fallback = fallback


@contextmanager
def quiet_gx() -> Iterator[None]:
    """GX's loggers at GX_LOG_LEVEL (GREENCERT_GX_LOG_LEVEL=INFO to see them again) while it runs."""
    warnings.filterwarnings("ignore", module="great_expectations")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logger = logging.getLogger("great_expectations")
    level = logger.level
    logger.setLevel(GX_LOG_LEVEL)
    try:
        yield
    finally:
        logger.setLevel(level)


def lock_file() -> Path:
    return settings.EXPECTATIONS_DIR / "gx" / ".greencert.lock"


@contextmanager
def exclusive_context() -> Iterator[Any]:
    """The file context, this process alone using it (other processes' validations wait)."""
    path = lock_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        asked = time.monotonic()
        fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file is closed, however this process ends
        waited = time.monotonic() - asked
        if waited > 1:
            log.info("waited %.1f s for the GX context (another validation was using it)", waited)
        try:
            yield context()
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def load_suite(ctx: Any, name: str, expectations: list[dict[str, Any]] | None = None) -> Any:
    """A suite from expectations/suites/<name>.json, or built from the given expectation dicts."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    if expectations is None:
        spec = json.loads((settings.EXPECTATIONS_DIR / "suites" / f"{name}.json").read_text(encoding="utf-8"))
        expectations = spec["expectations"]
    suite = gx.ExpectationSuite(name=name)
    for e in expectations:
        # add as Expectation objects: adding configurations de-duplicates by domain, which would
        # silently keep only one of several table-level UnexpectedRows checks
        config = ExpectationConfiguration(
            type=e["type"], kwargs=e["kwargs"], meta=e.get("meta", {}), severity=e.get("severity", "critical")
        )
        suite.add_expectation(config.to_domain_obj())
    try:
        ctx.suites.delete(name)
    except Exception:  # first run: nothing to replace
        pass
    return ctx.suites.add(suite)


def validate(
    conninfo: str,
    suite_name: str,
    *,
    table: tuple[str, str] | None = None,
    query: str | None = None,
    target: str,
    run_id: str,
    expectations: list[dict[str, Any]] | None = None,
    result_format: str = "SUMMARY",
    data_docs: bool = False,
    details_on_failure: bool = False,
) -> Outcome:
    """Validate a table (schema, name) or a query with the suite; store and return the outcome.

    SUMMARY (the default, for raw batches of any size) keeps counts and a few examples; COMPLETE
    (small tables such as the marts' 252 progress rows) also names the unexpected rows of a query
    expectation, so a failure says which target dropped. data_docs rebuilds the Data Docs site (every
    stored result, raw batches' included): the nightly's audit does it once a night rather than
    every batch paying for it.

    details_on_failure (the raw gate, on batches of millions of rows): validate with BOOLEAN_ONLY
    first — the expectations' counts only, computed in the database, a scan or two of the batch —
    and only if something failed validate again with result_format, whose examples of unexpected
    values cost a query per expectation (the quarantine already names every bad row)."""
    os.environ[CONN_VAR] = _sqlalchemy_url(conninfo)
    with quiet_gx():
        gx = import_gx()
        with exclusive_context() as ctx:
            try:
                first = "BOOLEAN_ONLY" if details_on_failure else result_format
                checks = _run(ctx, gx, suite_name, table, query, expectations, first, data_docs)
                if first != result_format and not all(c.success for c in checks):
                    checks = _run(ctx, gx, suite_name, table, query, expectations, result_format, data_docs)
            finally:
                _release_connections(ctx)
    outcome = Outcome(suite_name, target, tuple(checks))
    record(conninfo, run_id, outcome)
    log.info(outcome.summary())
    return outcome


def _run(
    ctx: Any,
    gx: Any,
    suite_name: str,
    table: tuple[str, str] | None,
    query: str | None,
    expectations: list[dict[str, Any]] | None,
    result_format: str,
    data_docs: bool,
) -> list[Check]:
    """Configure the suite's asset, validation definition and checkpoint in the context, run it."""
    ds = ctx.data_sources.add_or_update_postgres(name=DATASOURCE, connection_string="${" + CONN_VAR + "}")
    asset_name = suite_name.replace(".", "__")
    if asset_name in [a.name for a in ds.assets]:
        ds.delete_asset(asset_name)
    if table is not None:
        asset = ds.add_table_asset(name=asset_name, schema_name=table[0], table_name=table[1])
    else:
        asset = ds.add_query_asset(name=asset_name, query=query)
    batch_def = asset.add_batch_definition_whole_table("all")
    suite = load_suite(ctx, suite_name, expectations)
    try:
        ctx.validation_definitions.delete(suite_name)
    except Exception:
        pass
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=suite_name, data=batch_def, suite=suite))
    try:
        ctx.checkpoints.delete(suite_name)
    except Exception:
        pass
    checkpoint = ctx.checkpoints.add(
        gx.Checkpoint(
            name=suite_name,
            validation_definitions=[vd],
            actions=[],  # Data Docs are built below, from the results made safe to render
            result_format={"result_format": result_format, "partial_unexpected_count": 5},
        )
    )
    result = checkpoint.run()
    checks = _checks(result)
    _store_safe_to_render(ctx, result)
    if data_docs:
        from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

        ctx.build_data_docs(resource_identifiers=[*result.run_results, ExpectationSuiteIdentifier(name=suite_name)])
    return checks


def _release_connections(ctx: Any) -> None:
    """GX pools each datasource's connections and never closes them: one task gating many batches
    would keep a session per batch open, up to the role's connection limit."""
    for ds in ctx.data_sources.all().values():
        execution_engine = getattr(ds, "_execution_engine", None)
        for engine in (getattr(ds, "_engine", None), getattr(execution_engine, "engine", None)):
            if engine is not None and hasattr(engine, "dispose"):
                engine.dispose()


def html_safe(value: Any) -> Any:
    """A validation result's values (observed and unexpected values: text from the rows) with every
    string HTML-escaped, containers walked; other values as they are."""
    if isinstance(value, str):
        return html.escape(value)
    if isinstance(value, dict):
        return {k: html_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(html_safe(v) for v in value)
    return value


def _store_safe_to_render(ctx: Any, result: Any) -> None:
    """GX's Data Docs put a result's observed and unexpected values into the page as they are (GX
    1.24 escapes its string templates' parameters, not the plain cells of the unexpected-values
    table nor an observed value): a `<script>` a source sent in a cell would run in whoever opens
    the docs. So the stored result, the one the docs are rendered from, holds those values
    HTML-escaped (dq.validation_runs keeps them as read: `_checks` ran first)."""
    for key, vr in result.run_results.items():
        for r in vr.results:
            if r.result:
                r.result = html_safe(dict(r.result))
            if r.exception_info:
                r.exception_info = html_safe(dict(r.exception_info))
        ctx.validation_results_store.set(key, vr)


def _checks(result: Any) -> list[Check]:
    checks = []
    for vr in result.run_results.values():
        for r in vr.results:
            cfg = r.expectation_config
            res = r.result or {}
            observed = res.get("observed_value", res.get("unexpected_count", ""))
            if res.get("partial_unexpected_list"):
                observed = f"{res.get('unexpected_count')} unexpected, e.g. {res['partial_unexpected_list'][:5]}"
            if r.exception_info and r.exception_info.get("raised_exception"):
                observed = r.exception_info.get("exception_message")
            if not r.success and res.get("details", {}).get("unexpected_rows"):
                rows = [{k: str(v) for k, v in dict(row).items()} for row in res["details"]["unexpected_rows"][:5]]
                observed = f"{observed} unexpected rows, e.g. {rows}"
            checks.append(
                Check(
                    cfg.type,
                    cfg.kwargs.get("column"),
                    bool(r.success),
                    str(observed)[:500],
                    (cfg.meta or {}).get("why", ""),
                    str(getattr(cfg.severity, "value", cfg.severity)),
                )
            )
    return checks


def record(conninfo: str, run_id: str, outcome: Outcome) -> None:
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.executemany(
            """insert into dq.validation_runs
                   (run_id, suite, target, expectation, column_name, success, observed, severity)
               values (%s, %s, %s, %s, %s, %s, %s, %s)""",
            [
                (run_id, outcome.suite, outcome.target, c.expectation, c.column, c.success, c.observed, c.severity)
                for c in outcome.checks
            ],
        )


def data_docs_index() -> Path:
    return settings.EXPECTATIONS_DIR / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
