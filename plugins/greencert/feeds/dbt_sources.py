"""dbt's sources and accepted-rows base models, generated from the feed registry.

One dbt source per feed (`source('<feed>', '<feed>')`: raw.<feed>), declared in the feed's staging
folder, and one for the loader's own tables (`source('loader', ...)`: raw.landing_manifest and
dq.quarantine). Beside each feed's source, `base_<feed>__accepted_rows`: its raw rows from batches
that passed the raw gate, less the quarantined ones — what the feed's staging model reads.

The files are committed (dbt, Cosmos and a reader of the repo see them without running anything);
`greencert dbt-sources` writes them again and `tests/unit/test_dbt_sources.py` fails when the
committed ones differ from what the registry generates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from greencert import feeds, settings

STAGING = Path("models") / "staging"
LOADER = "loader"
GENERATED = "Generated from plugins/greencert/feeds/registry.yml by `greencert dbt-sources`: edit the registry."
HEADER = f"# {GENERATED}\n"
SQL_HEADER = f"-- {GENERATED}\n"

BATCH_COLUMNS = [
    {
        "name": "batch_id",
        "description": "批次号 the batch (feed + content hash) the row came in",
        "data_tests": ["not_null"],
    },
    {"name": "source_file", "description": "源文件 the file's name as the source sent it"},
    {"name": "source_row", "description": "源文件行号 row number in the file as a spreadsheet shows it"},
    {"name": "loaded_at", "description": "载入时间 when the loader copied the batch in"},
]

# The loader's own tables (DDL: warehouse/roles.py). dbt has one schema per source, so the source
# `loader` is declared twice, once per schema (raw, dq): one system, one name, one folder.
LOADER_SOURCES: list[dict[str, Any]] = [
    {
        "name": LOADER,
        "schema": "raw",
        "description": "原始层 — the loader's record of every landed batch (plugins/greencert/load).",
        "tables": [
            {
                "name": "landing_manifest",
                "description": "落地清单 — one row per landed file (batch) with its sha256, row count and gate status.",
                "columns": [
                    {
                        "name": "batch_id",
                        "description": "批次号 feed + content hash",
                        "data_tests": ["unique", "not_null"],
                    },
                    {"name": "feed", "description": "数据源 the feed of the registry"},
                    {
                        "name": "status",
                        "description": "状态 landed / loaded / accepted (passed the raw suite) / rejected",
                    },
                    {"name": "logical_date", "description": "批次日期 the ingest run's date"},
                    {"name": "landed_at", "description": "落地时间 when the file was landed"},
                ],
            }
        ],
    },
    {
        "name": LOADER,
        "schema": "dq",
        "description": "数据质量 — written by the loader's raw gate (plugins/greencert/quality).",
        "tables": [
            {
                "name": "quarantine",
                "description": "隔离区 — one row per broken row rule (feed, batch, source row, column, rule, value); "
                "staging skips those rows.",
                "columns": [
                    {"name": "batch_id", "description": "批次号"},
                    {
                        "name": "source_row",
                        "description": "源文件行号 row number in the file as a spreadsheet shows it",
                    },
                    {
                        "name": "rule",
                        "description": "规则 the row rule broken (required, date, uscc, vocabulary, "
                        "date_order, duplicate_key, …)",
                    },
                ],
            }
        ],
    },
]


def _column_description(feed: feeds.Feed, column: feeds.Column) -> str:
    key = [k for k in feed.natural_key if k != column.name]
    if column.name not in feed.natural_key:
        return column.headers[0]
    return f"{column.headers[0]} (natural key{', with ' + ', '.join(key) if key else ''})"


def feed_source(feed: feeds.Feed) -> dict[str, Any]:
    warn, error = feed.freshness
    return {
        "version": 2,
        "sources": [
            {
                "name": feed.name,
                "description": (
                    f"{feed.title} — {feed.source}. Raw layer: landed batches as text (plugins/greencert/load)."
                ),
                "schema": "raw",
                "config": {
                    # the registry's days; the mart gate judges them against the build's date (quality/mart_gate.py),
                    # `dbt source freshness` against the clock, counting accepted batches only
                    "loaded_at_field": "loaded_at",
                    "freshness": {
                        "warn_after": {"count": warn, "period": "day"},
                        "error_after": {"count": error, "period": "day"},
                        "filter": "batch_id in (select batch_id from raw.landing_manifest where status = 'accepted')",
                    },
                },
                "tables": [
                    {
                        "name": feed.name,
                        "description": f"{feed.title}; {feed.grain} (every batch as sent). {feed.doc}".strip(),
                        "columns": [{"name": c.name, "description": _column_description(feed, c)} for c in feed.columns]
                        + BATCH_COLUMNS,
                    }
                ],
            }
        ],
    }


def base_model_sql(feed: feeds.Feed) -> str:
    return (
        SQL_HEADER
        + f"""\
-- The {feed.name} rows of batches that passed the raw gate, less the rows its row rules sent to
-- quarantine, with the time their batch landed (staging's tie-breaker between batches). Ephemeral:
-- inlined into the model that reads it, so a filter on batch_id reaches raw's batch_id index.
{{{{ config(materialized='ephemeral') }}}}

with

raw_rows as (
    select * from {{{{ source('{feed.name}', '{feed.name}') }}}}
),

manifest as (
    select * from {{{{ source('{LOADER}', 'landing_manifest') }}}}
),

quarantine as (
    select * from {{{{ source('{LOADER}', 'quarantine') }}}}
),

final as (
    select
        raw_rows.*,
        manifest.landed_at
    from raw_rows
    inner join manifest
        on raw_rows.batch_id = manifest.batch_id
    where
        manifest.feed = '{feed.name}'
        and manifest.status = 'accepted'
        and not exists (
            select 1 from quarantine
            where quarantine.batch_id = raw_rows.batch_id and quarantine.source_row = raw_rows.source_row
        )
)

select * from final
"""
    )


def base_model_yml(feed: feeds.Feed) -> dict[str, Any]:
    return {
        "version": 2,
        "models": [
            {
                "name": f"base_{feed.name}__accepted_rows",
                "description": f"{feed.title} — the raw rows of accepted batches, less quarantined rows, with their "
                "batch's landed_at: what the feed's staging model reads (ephemeral, no table).",
                "columns": [
                    {"name": "batch_id", "description": "批次号"},
                    {"name": "source_row", "description": "源文件行号"},
                    {"name": "landed_at", "description": "落地时间 of the batch (the tie-breaker between batches)"},
                ],
            }
        ],
    }


def _yaml(data: dict[str, Any]) -> str:
    return HEADER + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=110)


def generated() -> dict[Path, str]:
    """Every generated file, by its path in the dbt project."""
    files = {STAGING / LOADER / f"_{LOADER}__sources.yml": _yaml({"version": 2, "sources": LOADER_SOURCES})}
    for feed in feeds.registry().values():
        folder = STAGING / feed.name
        files[folder / f"_{feed.name}__sources.yml"] = _yaml(feed_source(feed))
        files[folder / f"base_{feed.name}__accepted_rows.sql"] = base_model_sql(feed)
        files[folder / f"_base_{feed.name}__models.yml"] = _yaml(base_model_yml(feed))
    return files


def stale(project: Path | None = None) -> list[Path]:
    """The generated files that are missing or differ in the dbt project."""
    root = project or settings.DBT_PROJECT_DIR
    return [
        p
        for p, text in generated().items()
        if not (root / p).is_file() or (root / p).read_text(encoding="utf-8") != text
    ]


def write(project: Path | None = None) -> list[Path]:
    """Write the files that are stale; returns them."""
    root = project or settings.DBT_PROJECT_DIR
    changed = stale(root)
    texts = generated()
    for p in changed:
        (root / p).parent.mkdir(parents=True, exist_ok=True)
        (root / p).write_text(texts[p], encoding="utf-8")
    return changed
