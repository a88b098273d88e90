"""The GX suites keep every expectation they are written with (no silent de-duplication)."""

import json

from greencert import feeds, settings
from greencert.quality import gx_run, raw_suite


def test_mart_suite_keeps_every_expectation() -> None:
    spec = json.loads((settings.EXPECTATIONS_DIR / "suites" / "marts.fct_target_progress.json").read_text())
    suite = gx_run.load_suite(gx_run.context(), "marts.fct_target_progress")
    assert len(suite.expectations) == len(spec["expectations"])
    assert sum(e.expectation_type == "unexpected_rows_expectation" for e in suite.expectations) == 3


def test_raw_suite_is_derived_from_the_registry() -> None:
    feed = feeds.get("certificates")
    exps = raw_suite.expectations(feed)
    suite = gx_run.load_suite(gx_run.context(), raw_suite.suite_name(feed), exps)
    assert len(suite.expectations) == len(exps)
    required = [c.name for c in feed.columns if c.required]
    assert {e["kwargs"]["column"] for e in exps if e["type"] == "expect_column_values_to_not_be_null"} == set(required)
    assert {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "cert_no"}} in exps
