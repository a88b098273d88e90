"""The mart gate: the GX suite an audited build must pass before it is published.

The suite is expectations/suites/marts.fct_target_progress.json (every target for every region,
city = sum of regions, percentages, statuses) plus two checks built here because they depend on
configuration:
- volume anomaly: no city total falls by more than MAX_DROP_SHARE from the last published snapshot
  before the build's date, unless dq.explained_drops holds an explanation for that target and date;
- freshness: each feed's last accepted batch is at most `warn_after_days` (a warning, recorded and
  shown, not blocking) and `error_after_days` (blocking) behind the build's date.
"""

from __future__ import annotations

import json
from typing import Any

from greencert import feeds, settings
from greencert.quality import gx_run

SUITE = "marts.fct_target_progress"
TABLE = "fct_target_progress"


def volume_anomaly(max_drop_share: float) -> dict[str, Any]:
    query = f"""
        select b.target_id, b.actual_value, last.actual_value as last_published, last.snapshot_date
        from {{batch}} as b
        join lateral (
            select h.snapshot_date, h.actual_value from history.target_progress_history as h
            where h.target_id = b.target_id and h.region_code = b.region_code and h.snapshot_date < b.as_of_date
            order by h.snapshot_date desc limit 1
        ) as last on true
        where b.region_level = 'city' and last.actual_value > 0
          and b.actual_value < last.actual_value * (1 - {max_drop_share:.4f})
          and not exists (select 1 from dq.explained_drops as e
                          where e.target_id = b.target_id and e.as_of_date = b.as_of_date)"""
    return {
        "type": "unexpected_rows_expectation",
        "kwargs": {"unexpected_rows_query": query},
        "meta": {
            "why": f"no city total falls more than {max_drop_share:.0%} below the last published "
            "snapshot without an explanation (greencert explain-drop)"
        },
    }


def freshness(level: str) -> dict[str, Any]:
    """Feeds whose last accepted batch is more than the registry's warn/error days behind the build."""
    limits = ", ".join(
        f"('{f.name}', {f.freshness[0] if level == 'warning' else f.freshness[1]})" for f in feeds.registry().values()
    )
    query = f"""
        select last.feed, last.last_batch_on, d.as_of_date - last.last_batch_on as days_behind
        from (select feed, max(logical_date) as last_batch_on from raw.landing_manifest
              where status = 'accepted' group by feed) as last
        join (values {limits}) as limits (feed, max_days) on limits.feed = last.feed
        cross join (select max(as_of_date) as as_of_date from {{batch}} as b) as d
        where d.as_of_date - last.last_batch_on > limits.max_days"""
    days = "warn_after_days" if level == "warning" else "error_after_days"
    return {
        "type": "unexpected_rows_expectation",
        "kwargs": {"unexpected_rows_query": query},
        "severity": level,
        "meta": {"why": f"every feed delivered an accepted batch within its {days} (feed registry)"},
    }


def expectations(max_drop_share: float | None = None) -> list[dict[str, Any]]:
    spec = json.loads((settings.EXPECTATIONS_DIR / "suites" / f"{SUITE}.json").read_text(encoding="utf-8"))
    share = settings.MAX_DROP_SHARE if max_drop_share is None else max_drop_share
    return [*spec["expectations"], volume_anomaly(share), freshness("warning"), freshness("critical")]


def audit(conninfo: str, build_schema: str, run_id: str, max_drop_share: float | None = None) -> gx_run.Outcome:
    """Validate build_schema.fct_target_progress; the outcome is recorded in dq.validation_runs."""
    return gx_run.validate(
        conninfo,
        SUITE,
        table=(build_schema, TABLE),
        target=f"{build_schema}.{TABLE}",
        run_id=run_id,
        expectations=expectations(max_drop_share),
        result_format="COMPLETE",
        data_docs=True,
    )
