"""What a snapshot date's report shows, read in one go from the published `bi` views and `dq`.

The report reads `bi` (what BI tools see), so it can only show numbers that passed the gates and
were published; the data-quality part reads `dq` and `raw.landing_manifest` (the gates' records).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import psycopg
from psycopg.rows import dict_row

CITY = "320500"


@dataclass(frozen=True)
class Target:
    target_id: str
    kind: str  # target | indicator
    clause: str
    indicator_zh: str
    metric_en: str
    unit_zh: str
    comparator: str | None
    target_value: Decimal | None
    baseline_value: Decimal | None
    policy_start: date
    deadline: date | None
    actual_value: Decimal | None
    percent_of_target: Decimal | None
    trajectory_value: Decimal | None
    projected_value: Decimal | None
    progress_status: str

    @property
    def is_ratio(self) -> bool:
        return self.unit_zh == "%"


@dataclass(frozen=True)
class Region:
    region_code: str
    name_zh: str
    name_en: str
    actuals: dict[str, Decimal | None]  # target_id -> the region's actual (None: not fed)


@dataclass(frozen=True)
class ReportData:
    as_of: date
    published_at: str
    targets: list[Target]  # city rows, targets first then indicators
    regions: list[Region]  # county-level units and 未定位, in the seed's order
    history: dict[str, list[tuple[date, Decimal]]]  # target_id -> city actuals published up to as_of
    batches: list[dict]  # the raw gate on the batches landed that day
    quarantine_rules: list[tuple[str, str, int]]  # (feed, rule, rows) for that day's batches
    mart_checks: list[dict]  # the mart gate's expectations on the date's build


def load(conninfo: str, as_of: date) -> ReportData:
    with psycopg.connect(conninfo, row_factory=dict_row) as conn:
        # the history holds every published date (the marts only the latest): a backfilled or
        # rerun date's report reads its own date's rows
        city = conn.execute(
            """select h.*, t.target_kind, t.clause, t.indicator_zh, t.metric_en, t.unit_zh, t.comparator,
                      t.baseline_value, t.policy_start, t.deadline
               from bi.target_progress_history h join bi.policy_targets t using (target_id)
               where h.snapshot_date = %s and h.region_code = %s
               order by t.target_kind = 'indicator', h.target_id""",
            (as_of, CITY),
        ).fetchall()
        if not city:
            raise LookupError(
                f"nothing published for {as_of} in bi.target_progress_history "
                "(the report shows only published numbers: run the nightly for that date)"
            )
        region_rows = conn.execute(
            """select h.region_code, r.region_name_zh, r.region_name_en, h.target_id, h.actual_value,
                      h.progress_status <> '未接入' as is_fed
               from bi.target_progress_history h join bi.regions r using (region_code)
               where h.snapshot_date = %s and h.region_code <> %s
               order by r.sort_order, h.target_id""",
            (as_of, CITY),
        ).fetchall()
        history_rows = conn.execute(
            """select target_id, snapshot_date, actual_value from bi.target_progress_history
               where region_code = %s and snapshot_date <= %s and actual_value is not null
               order by target_id, snapshot_date""",
            (CITY, as_of),
        ).fetchall()
        published = conn.execute(
            # the readers' time, to the minute: 北京时间 (Asia/Shanghai), whatever the server's zone
            """select to_char(max(published_at) at time zone 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') as at
               from bi.target_progress_history where snapshot_date = %s""",
            (as_of,),
        ).fetchone()
        batches = conn.execute(
            """select m.feed, m.source_file, m.status, m.rows, m.reason,
                      (select count(distinct q.source_row) from dq.quarantine q
                       where q.batch_id = m.batch_id) as quarantined
               from raw.landing_manifest m where m.logical_date = %s
               order by m.feed, m.landed_at""",
            (as_of,),
        ).fetchall()
        rules = conn.execute(
            """select m.feed, q.rule, count(distinct (q.batch_id, q.source_row)) as n
               from dq.quarantine q join raw.landing_manifest m using (batch_id)
               where m.logical_date = %s group by 1, 2 order by 1, 3 desc, 2""",
            (as_of,),
        ).fetchall()
        target = f"build_{as_of:%Y%m%d}.fct_target_progress"
        mart_checks = conn.execute(
            """select expectation, column_name, success, severity, observed from dq.validation_runs
               where target = %s and run_id = (select run_id from dq.validation_runs where target = %s
                                               order by validated_at desc limit 1)
               order by success, expectation, column_name""",
            (target, target),
        ).fetchall()
    targets = [
        Target(
            target_id=r["target_id"],
            kind=r["target_kind"],
            clause=r["clause"],
            indicator_zh=r["indicator_zh"],
            metric_en=r["metric_en"],
            unit_zh=r["unit_zh"],
            comparator=r["comparator"],
            target_value=r["target_value"],
            baseline_value=r["baseline_value"],
            policy_start=r["policy_start"],
            deadline=r["deadline"],
            actual_value=r["actual_value"],
            percent_of_target=r["percent_of_target"],
            trajectory_value=r["trajectory_value"],
            projected_value=r["projected_value"],
            progress_status=r["progress_status"],
        )
        for r in city
    ]
    regions: dict[str, Region] = {}
    for r in region_rows:
        region = regions.setdefault(
            r["region_code"], Region(r["region_code"], r["region_name_zh"], r["region_name_en"], {})
        )
        region.actuals[r["target_id"]] = r["actual_value"] if r["is_fed"] else None
    history: dict[str, list[tuple[date, Decimal]]] = {}
    for r in history_rows:
        history.setdefault(r["target_id"], []).append((r["snapshot_date"], r["actual_value"]))
    return ReportData(
        as_of=as_of,
        published_at=(published or {}).get("at") or "",
        targets=targets,
        regions=list(regions.values()),
        history=history,
        batches=batches,
        quarantine_rules=[(r["feed"], r["rule"], r["n"]) for r in rules],
        mart_checks=mart_checks,
    )
