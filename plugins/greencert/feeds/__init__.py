"""The feed registry: one YAML file describes every source; DAGs, loaders and suites derive from it.

Adding a feed = an entry in registry.yml + a generator + a staging model; its dbt source and
accepted-rows base model are generated from the entry (dbt_sources.py, `greencert dbt-sources`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

REGISTRY = Path(__file__).with_name("registry.yml")
CONNECTORS = ("files", "http")  # extract/files.py, extract/http.py


@dataclass(frozen=True)
class Column:
    name: str  # snake_case raw/staging column
    headers: tuple[str, ...]  # the source's Chinese header and its known aliases
    required: bool = False
    check: str | None = None  # a row rule of quality/row_rules.py: date, uscc, number, cert_no, …
    not_future: bool = False  # a date of something done (issued, updated, listed): not after the day it landed


@dataclass(frozen=True)
class Feed:
    name: str
    title: str
    source: str
    connector: str  # files | http
    file_patterns: tuple[str, ...]  # globs in the drop folder
    schedule: str
    natural_key: tuple[str, ...]
    columns: tuple[Column, ...]
    vocabularies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    date_order: tuple[tuple[str, str], ...] = ()  # (earlier, later) column pairs, e.g. issue ≤ expiry
    freshness: tuple[int, int] = (2, 7)  # days behind before the mart gate warns / refuses to publish
    doc: str = ""
    grain: str = ""  # what one raw row is: "one row per certificate per batch"

    @property
    def raw_table(self) -> str:
        return f"raw.{self.name}"

    @property
    def asset_uri(self) -> str:
        return f"greencert://raw/{self.name}"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def column_for_header(self, header: str) -> Column | None:
        h = normalise_header(header)
        return next((c for c in self.columns if h in c.headers), None)


def normalise_header(header: str) -> str:
    # sources pad headers with spaces (`地 区`) and BOMs; compare without them
    return "".join(header.replace("\ufeff", "").split())


@cache
def registry() -> dict[str, Feed]:
    data = yaml.safe_load(REGISTRY.read_text(encoding="utf-8"))
    feeds = {}
    for name, f in data["feeds"].items():
        if f["connector"] not in CONNECTORS:
            raise ValueError(f"feed {name}: connector {f['connector']!r} is not one of {', '.join(CONNECTORS)}")
        columns = tuple(
            Column(
                name=c["column"],
                headers=tuple(normalise_header(h) for h in [c["header"], *c.get("aliases", [])]),
                required=bool(c.get("required", False)),
                check=c.get("check"),
                not_future=bool(c.get("not_future", False)),
            )
            for c in f["columns"]
        )
        feeds[name] = Feed(
            name=name,
            title=f["title"],
            source=f["source"],
            connector=f["connector"],
            file_patterns=tuple(f["file_patterns"]),
            schedule=f["schedule"],
            natural_key=tuple(f["natural_key"]),
            columns=columns,
            vocabularies={k: tuple(v) for k, v in f.get("vocabularies", {}).items()},
            date_order=tuple((a, b) for a, b in f.get("date_order", [])),
            freshness=(
                int(f.get("freshness", {}).get("warn_after_days", 2)),
                int(f.get("freshness", {}).get("error_after_days", 7)),
            ),
            doc=f.get("doc", ""),
            grain=f.get("grain", ""),
        )
    return feeds


def get(name: str) -> Feed:
    try:
        return registry()[name]
    except KeyError:
        raise KeyError(f"unknown feed {name!r}; known: {', '.join(registry())}") from None
