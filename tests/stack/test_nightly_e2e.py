"""End to end through Airflow as it is deployed: the real ingest and nightly DAGs triggered through the
REST API of a running api-server, scheduler, DAG processor and triggerer (greencert.serve.Stack, what
`greencert serve` starts), on the generated feeds, checked against the generators' own answer (their
lifecycle model, in Python). The ingests of a day run side by side, as their schedules start them."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import psycopg
import pytest

from greencert import feeds, settings
from greencert.orchestration import nightly
from greencert.serve import runs
from greencert.serve.rest import AirflowREST
from standins import (
    agri_output,
    certificates,
    certification_bodies,
    enterprise_pools,
    enterprise_standards,
    green_building_materials,
    green_food,
    green_manufacturing,
    organic,
    write_all,
)
from standins.receivers import WebhookReceiver

from ..integration.helpers import AS_OF, admin_url_for, population, render_in_chromium, write_csv

DB = "greencert_e2e"
NEXT = AS_OF + timedelta(days=1)


def run_day(client: AirflowREST, day: date, nightly_deadline_in: timedelta | None = None) -> None:
    """Every ingest DAG side by side, then the nightly, triggered for `day` through the REST API."""
    write_all(day)
    failed = runs.failed(runs.run_day(client, day, timeout_s=2400, nightly_deadline_in=nightly_deadline_in))
    if failed:
        raise RuntimeError(f"DagRun failed: {', '.join(failed)} {day}")


def published(url: str, day: date) -> dict[tuple[str, str], int | None]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select target_id, region_code, actual_value from bi.target_progress where as_of_date = %s", (day,)
        ).fetchall()
    return {(t, r): (None if v is None else int(v)) for t, r, v in rows}


# what each fed target or indicator counts, in the generator's words
OTHER_FEEDS = {
    "T02": green_food,
    "T03": organic,
    "T08": green_building_materials,
    "T10": enterprise_standards,
    "T11": certification_bodies,
}
PROGRAMS = {
    **{target: () for target in OTHER_FEEDS},  # counted from their own feeds
    "T05": ("商品售后服务评价认证", "服务认证(其他)"),
    "T06": ("环境管理体系认证",),
    "T07": ("节能产品认证", "节水产品认证", "低碳产品认证"),
    "T09": ("能源管理体系认证",),
    "I01": ("良好农业规范(GAP)认证",),
    "I02": ("食品安全管理体系认证",),
    "I03": ("危害分析与关键控制点(HACCP)体系认证",),
    "I04": ("碳足迹认证",),
    "I05": ("绿色产品认证",),
}


LISTS = {
    "T01": green_manufacturing.FACTORY,
    "I06": green_manufacturing.PARK,
    "I07": green_manufacturing.SUPPLY_CHAIN,
    "I08": green_manufacturing.DESIGN,
}
PROGRAMS.update({target: () for target in (*LISTS, "T12", "I09")})


def green_holders(day: date) -> set[str]:
    """USCCs holding a green certificate in force on `day`, from every certifying feed."""
    programs = {p for names in PROGRAMS.values() for p in names}
    held = {
        c.enterprise.org_id
        for c in population().certificates
        if c.program.name in programs and certificates.in_force(c, day)
    }
    held |= {p.producer.uscc for p in green_food.build_population().products if green_food.in_force(p, day)}
    held |= {c.uscc for c in organic.build_population().certificates if organic.in_force(c, day)}
    held |= {
        c.uscc
        for c in green_building_materials.build_population().certificates
        if green_building_materials.in_force(c, day)
    }
    return held


def oracle(day: date, target: str) -> dict[str, int]:
    if target in LISTS:
        counts = green_manufacturing.in_force_counts(green_manufacturing.build_population(), day, LISTS[target])
        return {k: v for k, v in counts.items() if v}
    if target in ("T12", "I09"):
        members = {m.uscc: m for m in enterprise_pools.build_members() if enterprise_pools.in_pool(m, day)}
        if target == "I09":
            members = {u: m for u, m in members.items() if u in green_holders(day)}
        return dict(Counter(m.region for m in members.values()))
    if target in OTHER_FEEDS:
        gen = OTHER_FEEDS[target]
        return {k: v for k, v in gen.in_force_counts(gen.build_population(), day).items() if v}
    total: dict[str, int] = {}
    for program in PROGRAMS[target]:
        for region, n in certificates.in_force_counts(population(), day, program).items():
            key = "000000" if region is None else region
            total[key] = total.get(key, 0) + n
    return {k: v for k, v in total.items() if v}


def share(green: int, total: int) -> Decimal:
    """100 × green / total to one decimal, rounded half up as PostgreSQL's round(numeric) does."""
    return (Decimal(100 * green) / total).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def checksums(db: str) -> dict[str, str]:
    """md5 of every published table and of raw, row order independent."""
    out = {}
    with psycopg.connect(admin_url_for(db)) as conn:
        tables = conn.execute(
            """select schemaname || '.' || tablename from pg_tables
               where schemaname in ('marts', 'history', 'raw', 'snapshots')
                  or (schemaname, tablename) = ('dq', 'quarantine') order by 1"""
        ).fetchall()
        for (table,) in tables:
            rows = conn.execute(f"select md5(t::text) from {table} t").fetchall()
            digest = hashlib.sha256("".join(sorted(r[0] for r in rows)).encode()).hexdigest()
            out[table] = f"{len(rows)}:{digest}"
    return out


@pytest.fixture(scope="module")
def webhook():
    """Where the DAGs' notifications go (connection greencert_webhook): failures, successes, deadlines."""
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def env(fresh_database, source_api, airflow_stack, webhook):
    from greencert import subprocesses

    urls = fresh_database(DB)
    for f in [*settings.DROPBOX.glob("*/*"), *settings.API_STORE.glob("*/*")]:
        f.unlink()
    subprocesses.dbt_parse()
    stack = airflow_stack(urls, "e2e", extra_env={"AIRFLOW_CONN_GREENCERT_WEBHOOK": json.dumps(webhook.connection())})
    client = stack.client()
    yield client, urls, stack
    client.close()


def deadline_alerts(webhook) -> list[str]:
    texts = [json.dumps(m["json"], ensure_ascii=False) for m in webhook.messages]
    return [t for t in texts if "not published by" in t]


def test_publishes_the_generators_numbers(env) -> None:
    client, urls, stack = env
    # the first night is triggered as the scheduler would have created it, but late: its 07:00
    # deadline (logical date + 7 h 30) falls 15 s after it starts, while it is still building (the
    # first build takes ~40 s here; at 40 s the night had sometimes published before its deadline)
    # (test_the_deadline_… below checks the alert)
    run_day(client, AS_OF, nightly_deadline_in=timedelta(seconds=15))
    got = published(urls["bi_reader"], AS_OF)
    for target in PROGRAMS:
        expected = oracle(AS_OF, target)
        by_region = {r: v for (t, r), v in got.items() if t == target and r != "320500" and v}
        assert by_region == expected, target
        assert got[(target, "320500")] == sum(expected.values())
    # T04 is a share of sums: the city's is computed from its tonnes, not from the regions' shares
    year, tonnes = agri_output.share_on(2022, AS_OF)
    with psycopg.connect(urls["bi_reader"]) as conn:
        t04 = dict(
            conn.execute(
                "select region_code, actual_value from bi.target_progress where target_id = 'T04' and as_of_date = %s",
                (AS_OF,),
            ).fetchall()
        )
    green, total = map(sum, zip(*tonnes.values(), strict=True))
    assert year == 2024 and t04["320500"] == share(green, total)
    assert {r: t04[r] for r in tonnes} == {r: share(g, t) for r, (g, t) in tonnes.items()}
    # the day's deliberately broken certificate rows, and only they, are in quarantine with their
    # rule (each is a copy of an EMS certificate in force: had one got through, T06 above would be off)
    with psycopg.connect(urls["loader"]) as conn:
        quarantined = conn.execute(
            """select r.cert_no, q.rule from dq.quarantine q
               join raw.certificates r on r.batch_id = q.batch_id and r.source_row = q.source_row"""
        ).fetchall()
        total = conn.execute("select count(*) from dq.quarantine").fetchone()[0]
    assert sorted(quarantined) == sorted(
        (row["证书编号"], rule) for row, rule in certificates.broken_rows(population(), AS_OF)
    )
    assert total == len(quarantined)


def test_next_day_moves_by_exactly_that_days_changes(env) -> None:
    client, urls, stack = env
    before = published(urls["bi_reader"], AS_OF)
    assert certificates.changed_on(population(), NEXT), "the generator should change something each day"
    # the same day, one source sends a file without a required column: that feed stops, loudly,
    # its earlier batches stay; the other feeds and the nightly go on
    blacklist = feeds.get("credit_blacklist")
    headers = [c.headers[0] for c in blacklist.columns if c.name != "listed_on"]
    write_csv(
        settings.dropbox("credit_blacklist") / "严重违法失信名单_补充.csv",
        [{"统一社会信用代码": "91320500MA1XXXXXX0", "企业名称": "苏州某公司"}],
        headers,
    )
    with pytest.raises(RuntimeError, match="DagRun failed: greencert_ingest_credit_blacklist 2025-07-01"):
        run_day(client, NEXT)
    with psycopg.connect(urls["loader"]) as conn:
        fate = conn.execute(
            "select source_file, logical_date, status, reason from raw.landing_manifest "
            "where feed = 'credit_blacklist' order by logical_date, source_file"
        ).fetchall()
    refused = [(f, d, why) for f, d, status, why in fate if status != "accepted"]
    name = "严重违法失信名单_补充.csv"
    assert refused == [(name, NEXT, f"{name}: missing required column 列入日期 (listed_on) in feed credit_blacklist")]
    assert ("GET /credit_blacklist?updated_since=", AS_OF, "accepted", None) in fate  # earlier batch intact
    after = published(urls["bi_reader"], NEXT)
    for target in PROGRAMS:
        delta = sum(oracle(NEXT, target).values()) - sum(oracle(AS_OF, target).values())
        assert after[(target, "320500")] - before[(target, "320500")] == delta, target
    # the earlier snapshot date is still in the history, unchanged
    assert published(urls["bi_reader"], AS_OF) == {}  # bi.target_progress shows only the latest build
    with psycopg.connect(urls["bi_reader"]) as conn:
        dates = conn.execute(
            "select snapshot_date, count(*) from bi.target_progress_history group by 1 order by 1"
        ).fetchall()
        t06 = conn.execute(
            "select actual_value from bi.target_progress_history where snapshot_date = %s "
            "and target_id = 'T06' and region_code = '320500'",
            (AS_OF,),
        ).fetchone()
    assert dates == [(AS_OF, 21 * 12), (NEXT, 21 * 12)]
    assert int(t06[0]) == before[("T06", "320500")]


THIRD = AS_OF + timedelta(days=2)


def numbers(url: str, day: date) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select target_id, region_code, numerator_value, denominator_value, actual_value, "
            "progress_status from history.target_progress_history where snapshot_date = %s "
            "order by target_id, region_code",
            (day,),
        ).fetchall()


def report_digests(day: date) -> dict[str, str]:
    folder = settings.REPORTS / day.isoformat()
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}


def test_three_dates_then_every_dag_rerun_for_the_middle_one_changes_nothing(env) -> None:
    """Three consecutive snapshot dates: three history dates and a report folder each. Then every DAG
    (the ten ingests and the nightly) runs again for the middle date, as a rerun or a backfill would:
    raw, quarantine, snapshots, marts and the history of every date stay byte for byte (the middle
    date's numbers are the same and not doubled), the other dates' report files too, and `marts`/`bi`
    keep the latest date."""
    client, urls, stack = env
    (settings.dropbox("credit_blacklist") / "严重违法失信名单_补充.csv").unlink()  # refused on day 2
    run_day(client, THIRD)
    with psycopg.connect(urls["bi_reader"]) as conn:
        dates = conn.execute(
            "select snapshot_date, count(*) from bi.target_progress_history group by 1 order by 1"
        ).fetchall()
    assert dates == [(AS_OF, 21 * 12), (NEXT, 21 * 12), (THIRD, 21 * 12)]
    for day in (AS_OF, NEXT, THIRD):
        assert set(report_digests(day)) == {"report.html", "report.xlsx"}, day
    before = checksums(DB)
    reports = {day: report_digests(day) for day in (AS_OF, THIRD)}
    middle = numbers(urls["transformer"], NEXT)

    run_day(client, NEXT)

    assert checksums(DB) == before
    assert {day: report_digests(day) for day in (AS_OF, THIRD)} == reports
    assert numbers(urls["transformer"], NEXT) == middle and len(middle) == 21 * 12
    assert set(published(urls["bi_reader"], THIRD)) and not published(urls["bi_reader"], NEXT)
    assert set(report_digests(NEXT)) == {"report.html", "report.xlsx"}


def test_the_report_renders_in_a_browser_and_its_workbook_holds_the_published_numbers(env, tmp_path) -> None:
    """The latest date's report as people get it: the HTML laid out by headless Chromium with its three
    charts drawn (SVG inline, nothing fetched), a row per target, region and landed batch; the XLSX with
    a sheet of targets, one per region and one of data quality, holding the numbers BI sees."""
    from openpyxl import load_workbook

    client, urls, stack = env
    folder = settings.REPORTS / THIRD.isoformat()
    page = render_in_chromium(folder / "report.html", tmp_path, screenshot="report-nightly.png")
    assert page["missing_glyphs"] == [], page["missing_glyphs"]  # every character has its glyph
    charts = {c["id"]: c for c in page["charts"]}
    assert set(charts) == {"chart-progress", "chart-heatmap", "chart-trends"}
    for chart in charts.values():
        assert chart["width"] > 300 and chart["height"] > 150 and chart["marks"] > 10 and chart["texts"] > 10, chart
    assert charts["chart-heatmap"]["texts"] >= 11 * 12  # every region × target cell annotated
    assert page["targets"] == 21 and page["regions"] == 11 and page["bars"] == 12
    with psycopg.connect(urls["transformer"]) as conn:
        landed = conn.execute("select count(*) from raw.landing_manifest where logical_date = %s", (THIRD,)).fetchone()
    assert page["quality"] == landed[0]

    book = load_workbook(folder / "report.xlsx", read_only=True)
    assert book.sheetnames[0] == "目标 Targets" and book.sheetnames[-1] == "数据质量 Data quality"
    assert len(book.sheetnames) == 1 + 11 + 1
    rows = list(book["目标 Targets"].iter_rows(min_row=3, values_only=True))
    with psycopg.connect(urls["bi_reader"]) as conn:
        bi = {
            (t, r): v
            for t, r, v in conn.execute(
                "select target_id, region_code, actual_value from bi.target_progress where as_of_date = %s", (THIRD,)
            )
        }
    assert {r[0]: r[5] for r in rows} == {
        t: (None if v is None else float(v) if v % 1 else int(v)) for (t, r), v in bi.items() if r == "320500"
    }
    kunshan = {r[0]: r[4] for r in book["320583 昆山市"].iter_rows(min_row=3, values_only=True)}
    assert kunshan["T06"] == bi[("T06", "320583")] and kunshan["T04"] == float(bi[("T04", "320583")])


def test_a_model_that_fails_fails_the_night_by_name_and_publishes_nothing(env, webhook) -> None:
    """The night's one `dbt build` with a model that cannot build (the transformer lost its grant on
    one raw table): the model's sensor fails, so do the build's task and what depends on the model,
    the audit and publish never run, the warehouse and the date's report stay byte for byte, and the
    failure notification names the model's task. Rerun for the latest date, so `marts` is current."""
    client, urls, stack = env
    before, report = checksums(DB), report_digests(THIRD)
    model = f"{nightly.DBT_GROUP}.stg_green_food__products.run"
    with psycopg.connect(admin_url_for(DB), autocommit=True) as conn:
        conn.execute("revoke select on raw.green_food from greencert_transformer")
    try:
        [done] = runs.trigger_and_wait(client, [nightly.DAG_ID], THIRD, timeout_s=1200)
    finally:
        with psycopg.connect(admin_url_for(DB), autocommit=True) as conn:
            conn.execute("grant select on raw.green_food to greencert_transformer")
    assert done.state == "failed"
    states = {t["task_id"]: t["state"] for t in client.task_instances(nightly.DAG_ID, done.run_id)}
    assert states[model] == "failed"
    # the build's task failed (try 1, dbt's error in its log); its retry is Cosmos's skip: no second build
    producer = nightly.BUILD_TASK
    assert states[producer] in ("failed", "skipped")
    log = (
        stack.home
        / "logs"
        / f"dag_id={nightly.DAG_ID}"
        / f"run_id={done.run_id}"
        / f"task_id={producer}"
        / "attempt=1.log"
    ).read_text()
    assert "stg_green_food__products" in log and "permission denied" in log
    assert states[f"{nightly.DBT_GROUP}.fct_t02_green_food_certificates.run"] in ("failed", "upstream_failed")
    assert states["audit"] == states["publish"] == "upstream_failed"
    assert states[f"{nightly.DBT_GROUP}.fct_t06_ems_certificates.run"] == "success"  # the rest was built
    assert checksums(DB) == before and report_digests(THIRD) == report
    texts = [json.dumps(m["json"], ensure_ascii=False) for m in webhook.messages]
    assert any("FAILED" in t and model in t for t in texts), texts[-3:]


def test_the_night_that_missed_its_deadline_alerted_once_and_the_stack_stayed_up(env, webhook) -> None:
    """The 07:00 deadline under the real scheduler and triggerer: the first night, whose deadline
    fell while it was still building, was alerted on once (by the triggerer, which stayed up); none of
    the runs after it were (triggered now, or — the reruns — long before their own deadline)."""
    client, urls, stack = env
    alerts = deadline_alerts(webhook)
    assert len(alerts) == 1 and AS_OF.isoformat() in alerts[0], alerts
    assert stack.alive() == {name: True for name in stack.alive()}, {n: stack.tail(n) for n in stack.alive()}
    health = client.health()
    assert all(health[c]["status"] == "healthy" for c in ("scheduler", "triggerer", "dag_processor")), health


def test_no_dbt_task_re_parsed_the_project(env) -> None:
    """Every night's dbt tasks found a partial-parse state that fits them (no per-night --vars, one
    build schema, the project parsed once by prepare_build): none re-parsed the whole project."""
    client, urls, stack = env
    logs = sorted((stack.home / "logs" / f"dag_id={nightly.DAG_ID}").glob("run_id=*/task_id=dbt.*/attempt=*.log"))
    assert len(logs) >= 4 * 50
    reparsed = [str(p.relative_to(stack.home)) for p in logs if "Unable to do partial parsing" in p.read_text()]
    assert reparsed == []
