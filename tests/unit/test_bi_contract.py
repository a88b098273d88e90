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
