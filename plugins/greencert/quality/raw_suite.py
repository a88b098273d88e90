"""The raw suite of a feed, derived from the registry: what every landed batch must satisfy."""

from __future__ import annotations

from typing import Any

from greencert.feeds import Feed


def expectations(feed: Feed) -> list[dict[str, Any]]:
    exps: list[dict[str, Any]] = [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
    ]
    for col in feed.columns:
        if col.required:
            exps.append({"type": "expect_column_to_exist", "kwargs": {"column": col.name}})
            exps.append({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": col.name}})
    if len(feed.natural_key) == 1:
        exps.append({"type": "expect_column_values_to_be_unique", "kwargs": {"column": feed.natural_key[0]}})
    else:
        exps.append({"type": "expect_compound_columns_to_be_unique",
                     "kwargs": {"column_list": list(feed.natural_key)}})
    for column, values in feed.vocabularies.items():
        exps.append({"type": "expect_column_values_to_be_in_set",
                     "kwargs": {"column": column, "value_set": list(values)}})
    return exps


def suite_name(feed: Feed) -> str:
    return f"raw.{feed.name}"
