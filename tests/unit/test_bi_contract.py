"""The BI contract without a database: every marts column is described in Chinese and English
(dbt persist_docs turns these into the column comments the bi views copy), and every bi view
column over a mart is one the mart documents."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from greencert import settings
from greencert.publish.swap import BI_VIEWS
from greencert.warehouse.roles import HISTORY_DDL

MARTS_YML = settings.DBT_PROJECT_DIR / "models" / "marts" / "_marts__models.yml"
HISTORY_YML = settings.DBT_PROJECT_DIR / "models" / "marts" / "_history__sources.yml"
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")


def _marts() -> dict[str, dict[str, str]]:
    models = yaml.safe_load(MARTS_YML.read_text(encoding="utf-8"))["models"]
    return {m["name"]: {c["name"]: c.get("description", "") for c in m.get("columns", [])} for m in models}


def test_every_marts_column_is_described_zh_en() -> None:
    """One style: "中文 — English"."""
    bad = []
    for model, columns in _marts().items():
        for column, description in columns.items():
            zh, sep, en = description.partition(" — ")
            if not (sep and CJK.search(zh) and LATIN.search(en)):
                bad.append(f"{model}.{column}: {description!r}")
    assert bad == []


def test_every_marts_model_is_in_the_yaml() -> None:
    sql = {p.stem for p in Path(MARTS_YML.parent).glob("*.sql")}
    assert sql == set(_marts())


def test_bi_view_columns_are_documented_mart_columns() -> None:
    marts = _marts()
    for view in BI_VIEWS:
        schema, relation = view.source.split(".")
        assert CJK.search(view.comment) and LATIN.search(view.comment), view.name
        assert len(set(view.columns)) == len(view.columns), view.name
        if schema == "marts":
            documented = set(marts[relation])
        else:  # the history table, created and commented by the warehouse bootstrap
            documented = set(re.findall(rf"comment on column {view.source}\.(\w+) is", HISTORY_DDL))
        assert [c for c in view.columns if c not in documented] == [], view.name


PG_ALIASES = {"timestamptz": "timestamp with time zone"}  # as PostgreSQL's format_type() names them


def _ddl_columns(table: str) -> dict[str, str]:
    """Column -> type of `table` as HISTORY_DDL creates it (create table, then add column)."""
    create = re.search(rf"create table if not exists {table} \((.*?)\n\);", HISTORY_DDL, re.S)
    assert create, table
    columns = {}
    for line in create.group(1).splitlines():
        m = re.match(r"\s+(\w+)\s+(.+?)(?: not null| default .*)*,?(?:\s+--.*)?$", line.split("--")[0].rstrip())
        if m and m.group(1) != "primary":
            columns[m.group(1)] = m.group(2).removesuffix(",").replace(" not null", "").split(" default ")[0].strip()
    for m in re.finditer(rf"alter table {table}\n((?:\s+add column if not exists \w+ [^,;]+[,;]\n?)+)", HISTORY_DDL):
        for name, type_ in re.findall(r"add column if not exists (\w+) ([^,;]+)", m.group(1)):
            columns[name] = type_.strip()
    return columns


def test_history_sources_are_the_ddl_documented_zh_en() -> None:
    """The tables outside dbt's build (history, staging.batches_taken) are dbt sources whose columns and
    data types are exactly what the warehouse bootstrap creates, each described 中文 — English."""
    sources = yaml.safe_load(HISTORY_YML.read_text(encoding="utf-8"))["sources"]
    declared = {f"{s['schema']}.{t['name']}": {c["name"]: c for c in t["columns"]}
                for s in sources for t in s["tables"]}
    assert set(declared) == {"history.target_progress_history", "staging.batches_taken"}
    for table, columns in declared.items():
        ddl = {c: PG_ALIASES.get(type_, type_) for c, type_ in _ddl_columns(table).items()}
        assert {c: col["data_type"] for c, col in columns.items()} == ddl, table
        for c, col in columns.items():
            zh, sep, en = col["description"].partition(" — ")
            assert sep and CJK.search(zh) and LATIN.search(en), (table, c)
