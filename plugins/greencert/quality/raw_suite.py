"""The raw suite of a feed, derived from the registry: what a batch's rows must satisfy once the
rows that broke a row rule are in quarantine (it runs on the rows left, as staging reads them).

Batch level: at least one row left. Row level, as an independent second look at what the
quarantine let through: required values present, the natural key unique, vocabularies kept. (A
query re-running every row rule was tried as a further look: it cost 20 s on a 50 k-row batch for
what the quarantine statement had just computed.)
"""

from __future__ import annotations

from typing import Any

from greencert.feeds import Feed


def expectations(feed: Feed) -> list[dict[str, Any]]:
    exps: list[dict[str, Any]] = [
        {
            "type": "expect_table_row_count_to_be_between",
            "kwargs": {"min_value": 1},
            "meta": {"why": "a batch with no usable row (every row quarantined) is refused"},
        },
    ]
    for col in feed.columns:
        if col.required:
            exps.append({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": col.name}})
    if len(feed.natural_key) == 1:
        exps.append({"type": "expect_column_values_to_be_unique", "kwargs": {"column": feed.natural_key[0]}})
    else:
        exps.append({"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": list(feed.natural_key)}})
    for column, values in feed.vocabularies.items():
        exps.append(
            {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": column, "value_set": list(values)}}
        )
    return exps


def suite_name(feed: Feed) -> str:
    return f"raw.{feed.name}"
