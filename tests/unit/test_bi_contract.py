"""The BI contract without a database: it is dbt's (models/bi: views with enforced contracts, their
comments through persist_docs), every marts and bi column is described in Chinese and English, and
every bi view column over a mart is one the mart documents, with the mart's description and type."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from greencert import settings
from greencert.publish.swap import BI_VIEWS
from greencert.warehouse.roles import HISTORY_DDL

MARTS_YML = settings.DBT_PROJECT_DIR / "models" / "marts" / "_marts__models.yml"
HISTORY_YML = settings.DBT_PROJECT_DIR / "models" / "staging" / "history" / "_history__sources.yml"
BI_YML = settings.DBT_PROJECT_DIR / "models" / "bi" / "_bi__models.yml"
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


def _history_columns() -> dict[str, dict]:
    tables = {
        t["name"]: t for s in yaml.safe_load(HISTORY_YML.read_text(encoding="utf-8"))["sources"] for t in s["tables"]
    }
    return {c["name"]: c for c in tables["target_progress_history"]["columns"]}


def test_bi_views_are_the_bi_models() -> None:
    """The BI contract's one definition is dbt's: swap.BI_VIEWS is read from models/bi's YAML, one view
    per bi_<name> model (a view with an enforced contract), each with its SQL file."""
    models = yaml.safe_load(BI_YML.read_text(encoding="utf-8"))["models"]
    assert [(v.model, v.name, v.columns, v.comment) for v in BI_VIEWS] == [
        (m["name"], m["name"].removeprefix("bi_"), tuple(c["name"] for c in m["columns"]), m["description"])
        for m in models
    ]
    assert {v.name for v in BI_VIEWS} == {
        "target_progress",
        "target_progress_history",
        "policy_targets",
        "regions",
        "certificates_in_force",
        "enterprises",
    }
    assert {p.stem for p in BI_YML.parent.glob("*.sql")} == {v.model for v in BI_VIEWS}
    for m in models:
        assert m["config"]["materialized"] == "view" and m["config"]["contract"] == {"enforced": True}, m["name"]
        assert all(c.get("data_type") for c in m["columns"]), m["name"]


def test_bi_view_columns_are_documented_mart_columns() -> None:
    """Every bi column is described 中文 — English with a data type; a column the view takes as it is from
    a mart (or the history) carries that column's description and data type."""
    marts = {
        m["name"]: {c["name"]: c for c in m.get("columns", [])}
        for m in yaml.safe_load(MARTS_YML.read_text(encoding="utf-8"))["models"]
    }
    models = {m["name"]: m for m in yaml.safe_load(BI_YML.read_text(encoding="utf-8"))["models"]}
    for view in BI_VIEWS:
        code = (BI_YML.parent / f"{view.model}.sql").read_text(encoding="utf-8")
        assert CJK.search(view.comment) and LATIN.search(view.comment), view.name
        assert len(set(view.columns)) == len(view.columns), view.name
        refs = re.findall(r"ref\('(\w+)'\)", code)
        sources = re.findall(r"source\('(\w+)', '(\w+)'\)", code)
        assert len(refs) + len(sources) == 1, view.name  # one published relation per view
        # the history reaches bi through its staging model (ephemeral: the history table's own columns)
        history = not refs or refs == ["stg_history__target_progress"]
        upstream = _history_columns() if history else marts[refs[0]]
        assert sources in ([], [("history", "target_progress_history")]), view.name
        computed = set(re.findall(r"\) as (\w+)", code))
        for column in models[view.model]["columns"]:
            name, description = column["name"], column["description"]
            zh, sep, en = description.partition(" — ")
            assert sep and CJK.search(zh) and LATIN.search(en), (view.name, name)
            assert name in upstream, (view.name, name)  # every bi column is a documented mart column
            if name not in computed:
                assert (description, column["data_type"]) == (
                    upstream[name]["description"],
                    upstream[name]["data_type"],
                ), (view.name, name)


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
    """The tables outside dbt's build (history, staging's control tables) are dbt sources whose columns and
    data types are exactly what the warehouse bootstrap creates, each described 中文 — English."""
    sources = yaml.safe_load(HISTORY_YML.read_text(encoding="utf-8"))["sources"]
    declared = {
        f"{s['schema']}.{t['name']}": {c["name"]: c for c in t["columns"]} for s in sources for t in s["tables"]
    }
    assert set(declared) == {"history.target_progress_history", "staging.batches_taken", "staging.rules_applied"}
    for table, columns in declared.items():
        ddl = {c: PG_ALIASES.get(type_, type_) for c, type_ in _ddl_columns(table).items()}
        assert {c: col["data_type"] for c, col in columns.items()} == ddl, table
        for c, col in columns.items():
            zh, sep, en = col["description"].partition(" — ")
            assert sep and CJK.search(zh) and LATIN.search(en), (table, c)
