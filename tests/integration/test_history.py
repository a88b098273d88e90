"""The status history (snapshot snp_certificates__status, check strategy on the status) makes a
past date answerable: three certificate files landed months apart, a dbt build after each, then
fct_target_progress rebuilt for earlier dates gives the numbers as they stood on those dates.
Every number below is worked out by hand from the rows and their comments. Each file is built
before the next one lands, as the nightly does; a second fixture lands loads 2 and 3 together and
builds once (a missed night): the history is collected from every batch, so R's suspension, sent
in load 2 and replaced by load 3, is still in it.

Timeline of the T06 certificates (环境管理体系认证), one file per load, each the full list in its
latest state ("One row per certificate, latest state; 更新时间 moves when anything changes"):

    cert  region  issued      expires     load 1 (2024-06-30)   load 2 (2024-09-30)     load 3 (2025-01-31)
    R     320506  2023-03-01  2026-02-28  有效 @2024-01-01       暂停 @2024-07-15         有效 @2024-10-20 (reinstated)
    X     320506  2023-05-01  2026-04-30  有效 @2023-05-01       暂停 @2024-08-20         撤销 @2024-11-05
    W     320509  2021-12-01  2024-11-30  有效 @2021-12-01       有效 (unchanged)         过期 @2024-11-30 00:05
    E     320506  2021-06-30  2024-06-29  有效 @2021-06-30 (*)   过期 @2024-06-29 00:05   (unchanged)
    Y     320583  2022-03-01  2025-02-28  有效 @2022-03-01       暂停 @2024-06-20 (late)  (unchanged)
    F     320571  2024-07-01  2027-06-30  —                      有效 @2024-07-01         (unchanged)

    (*) the source had not caught up with the expiry: the status says 有效, the date rules it out.
    "late": the suspension took effect on 2024-06-20 but only reached us with load 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import psycopg
import pytest

from greencert import environment, feeds, subprocesses
from greencert.extract.files import land_new_files
from greencert.load.copy_batch import load_batch
from greencert.publish.swap import build_schema_for, prepare_build
from greencert.quality.raw_gate import run_raw_gate

from .helpers import cert, write_csv

DB = "greencert_history"
EMS = {"认证项目": "环境管理体系认证"}  # program → T06


def _r(status: str, updated: str, changed: str = "") -> dict[str, str]:
    return cert(
        "R",
        **EMS,
        **{
            "行政区划代码": "320506",
            "颁证日期": "2023-03-01",
            "证书到期日期": "2026-02-28",
            "证书状态": status,
            "状态变更日期": changed,
            "更新时间": updated,
        },
    )


def _x(status: str, updated: str, changed: str = "") -> dict[str, str]:
    return cert(
        "X",
        **EMS,
        **{
            "行政区划代码": "320506",
            "颁证日期": "2023-05-01",
            "证书到期日期": "2026-04-30",
            "证书状态": status,
            "状态变更日期": changed,
            "更新时间": updated,
        },
    )


def _w(status: str, updated: str) -> dict[str, str]:
    return cert(
        "W",
        **EMS,
        **{
            "行政区划代码": "320509",
            "颁证日期": "2021-12-01",
            "证书到期日期": "2024-11-30",
            "证书状态": status,
            "更新时间": updated,
        },
    )


def _e(status: str, updated: str) -> dict[str, str]:
    return cert(
        "E",
        **EMS,
        **{
            "行政区划代码": "320506",
            "颁证日期": "2021-06-30",
            "证书到期日期": "2024-06-29",
            "证书状态": status,
            "更新时间": updated,
        },
    )


def _y(status: str, updated: str, changed: str = "") -> dict[str, str]:
    return cert(
        "Y",
        **EMS,
        **{
            "行政区划代码": "320583",
            "颁证日期": "2022-03-01",
            "证书到期日期": "2025-02-28",
            "证书状态": status,
            "状态变更日期": changed,
            "更新时间": updated,
        },
    )


F = cert(
    "F",
    **EMS,
    **{
        "行政区划代码": "320571",
        "颁证日期": "2024-07-01",
        "证书到期日期": "2027-06-30",
        "更新时间": "2024-07-01 09:00:00",
    },
)

LOAD_1 = date(2024, 6, 30)
LOAD_2 = date(2024, 9, 30)
LOAD_3 = date(2025, 1, 31)
LOADS: dict[date, list[dict[str, str]]] = {
    LOAD_1: [
        _r("有效", "2024-01-01 09:00:00"),  # in force on 2024-06-30
        _x("有效", "2023-05-01 09:00:00"),  # in force on 2024-06-30
        _w("有效", "2021-12-01 09:00:00"),  # in force until 2024-11-30
        _e("有效", "2021-06-30 09:00:00"),  # expired 2024-06-29, the day before: out
        _y("有效", "2022-03-01 09:00:00"),  # in force, as far as we know today
    ],
    LOAD_2: [
        _r("暂停", "2024-07-15 10:00:00", "2024-07-15"),  # suspended from 2024-07-15
        _x("暂停", "2024-08-20 11:00:00", "2024-08-20"),  # suspended from 2024-08-20
        _w("有效", "2021-12-01 09:00:00"),  # unchanged
        _e("过期", "2024-06-29 00:05:00"),  # the source catches up with the expiry
        _y("暂停", "2024-06-20 15:00:00", "2024-06-20"),  # suspended 2024-06-20, reported late
        F,  # new, issued 2024-07-01
    ],
    LOAD_3: [
        _r("有效", "2024-10-20 14:30:00", "2024-10-20"),  # reinstated from 2024-10-20
        _x("撤销", "2024-11-05 16:00:00", "2024-11-05"),  # withdrawn from 2024-11-05
        _w("过期", "2024-11-30 00:05:00"),  # expired 2024-11-30
        _e("过期", "2024-06-29 00:05:00"),  # unchanged
        _y("暂停", "2024-06-20 15:00:00", "2024-06-20"),  # unchanged
        F,  # unchanged
    ],
}

# What each load's own nightly build publishes for its own date (what was known then):
AT_LOAD = {
    LOAD_1: {"R", "X", "W", "Y"},  # E expired; Y's suspension not known yet; F not issued
    LOAD_2: {"W", "F"},  # R and X suspended, Y suspended, E expired
    LOAD_3: {"R", "F"},  # R reinstated, X withdrawn, W expired
}
# Past dates asked after all three loads (what we know now about how things stood then):
PAST = {
    date(2024, 6, 30): {"R", "X", "W"},  # R counted (suspended only later); Y was already suspended; F not issued
    date(2024, 8, 1): {"X", "W", "F"},  # R suspended (07-15); X not yet (08-20); F issued 07-01
    date(2024, 12, 31): {"R", "F"},  # R reinstated (10-20); X withdrawn (11-05); W expired (11-30)
}
REGION = {"R": "320506", "X": "320506", "W": "320509", "E": "320506", "Y": "320583", "F": "320571"}
# the same, as T06 progress rows per region (every other county shows 0)
PAST_T06 = {
    date(2024, 6, 30): {"320506": 2, "320509": 1},
    date(2024, 8, 1): {"320506": 1, "320509": 1, "320571": 1},
    date(2024, 12, 31): {"320506": 1, "320571": 1},
}
AT_LOAD_T06 = {
    LOAD_1: {"320506": 2, "320509": 1, "320583": 1},
    LOAD_2: {"320509": 1, "320571": 1},
    LOAD_3: {"320506": 1, "320571": 1},
}

SNAPSHOT = "snapshots.snp_certificates__status"


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class History:
    url: str  # the transformer's
    at_load: dict[date, str]  # load date -> its nightly build schema
    past: dict[date, str]  # past date -> the build schema answering it afterwards
    r_versions_after_load: dict[date, int]  # how many versions of R the snapshot held after each load
    snapshot_after_loads: list[tuple]
    snapshot_after_rebuilds: list[tuple]
    relanded: list


def _snapshot(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"select cert_no, status, updated_at, dbt_valid_to, dbt_scd_id from {SNAPSHOT} order by cert_no, updated_at"
        ).fetchall()


def _build(url: str, schema: str, as_of: date) -> str:
    prepare_build(url, schema)
    # seeds, snapshots and models; the dbt tests run in test_dbt_build (here they would only cost time)
    subprocesses.dbt(
        ["build", "--exclude-resource-type", "test", "--vars", f"{{as_of_date: '{as_of}'}}"],
        environment.dbt_env(url, schema),
    )
    return schema


def _land(feed: feeds.Feed, loader: str, day: date, dropbox: Path, landing: Path) -> list:
    return land_new_files(feed, loader, day, dropbox=dropbox, landing=landing)


@pytest.fixture(scope="module")
def history(fresh_database, tmp_path_factory) -> History:
    urls = fresh_database(DB)
    url = urls["transformer"]
    feed = feeds.get("certificates")
    tmp = tmp_path_factory.mktemp("history")
    dropbox, landing = tmp / "drop", tmp / "landing"
    at_load, r_versions = {}, {}
    for day, rows in LOADS.items():  # the files arrive one after the other in the same drop folder
        write_csv(dropbox / f"certificates_{day:%Y%m%d}.csv", rows)
        (batch,) = _land(feed, urls["loader"], day, dropbox, landing)  # only the new file is new
        load_batch(feed, urls["loader"], batch)
        assert run_raw_gate(feed, urls["loader"], batch.batch_id, run_id=f"history-{day}").success
        at_load[day] = _build(url, build_schema_for(day), day)
        r_versions[day] = sum(1 for row in _snapshot(url) if row[0] == "R")
    after_loads = _snapshot(url)
    # every file sent again, byte for byte: nothing to land, hence nothing to load
    relanded = _land(feed, urls["loader"], date(2025, 2, 28), dropbox, landing)
    # the past dates, answered now: each build runs the snapshot again on unchanged data
    past = {day: _build(url, f"{build_schema_for(day)}_asked_later", day) for day in PAST}
    return History(url, at_load, past, r_versions, after_loads, _snapshot(url), relanded)


def _t06(history: History, schema: str) -> tuple[dict[str, int], int, date]:
    with psycopg.connect(history.url) as conn:
        rows = conn.execute(
            f"select region_code, actual_value, as_of_date from {schema}.fct_target_progress where target_id = 'T06'"
        ).fetchall()
    regions = {r: int(v) for r, v, _ in rows if r != "320500" and v}
    (city,) = [int(v) for r, v, _ in rows if r == "320500"]
    (as_of,) = {d for _, _, d in rows}
    return regions, city, as_of


def _counted(history: History, schema: str) -> dict[str, str]:
    with psycopg.connect(history.url) as conn:
        return dict(conn.execute(f"select cert_no, region_code from {schema}.fct_t06_ems_certificates").fetchall())


def _assert_answer(history: History, schema: str, day: date, certs: set[str], by_region: dict[str, int]) -> None:
    assert _counted(history, schema) == {c: REGION[c] for c in certs}
    regions, city, as_of = _t06(history, schema)
    assert as_of == day
    assert regions == by_region
    assert city == sum(by_region.values()) == len(certs)


@pytest.mark.parametrize("day", list(LOADS), ids=str)
def test_each_nightly_answers_its_own_date(history: History, day: date) -> None:
    """Each load's build, for its own date, counts what was known then."""
    _assert_answer(history, history.at_load[day], day, AT_LOAD[day], AT_LOAD_T06[day])


def test_2024_06_30_as_it_stood_then(history: History) -> None:
    """After all three loads, 2024-06-30 still counts R (its suspension came later) and X (ditto); it
    no longer counts Y, whose suspension dated 2024-06-20 arrived late, with load 2."""
    day = date(2024, 6, 30)
    _assert_answer(history, history.past[day], day, PAST[day], PAST_T06[day])
    assert AT_LOAD[LOAD_1] - PAST[day] == {"Y"}  # the only difference from what was published that night


def test_2024_08_01_r_suspended(history: History) -> None:
    """R was suspended on 2024-07-15: not counted on 2024-08-01, although it is in force again today."""
    day = date(2024, 8, 1)
    _assert_answer(history, history.past[day], day, PAST[day], PAST_T06[day])


def test_2024_12_31_r_reinstated(history: History) -> None:
    """R was reinstated on 2024-10-20: counted again on 2024-12-31; X, withdrawn 2024-11-05, is not."""
    day = date(2024, 12, 31)
    _assert_answer(history, history.past[day], day, PAST[day], PAST_T06[day])


def test_snapshot_holds_every_version_of_r(history: History) -> None:
    """R: one version per state it was sent in, each holding from its 更新时间 until the next one's."""
    r = [row[1:4] for row in history.snapshot_after_rebuilds if row[0] == "R"]
    assert r == [
        ("有效", ts("2024-01-01 09:00:00"), None),
        ("暂停", ts("2024-07-15 10:00:00"), None),
        ("有效", ts("2024-10-20 14:30:00"), None),
    ]
    assert history.r_versions_after_load == {LOAD_1: 1, LOAD_2: 2, LOAD_3: 3}  # one more per changing load
    versions = {}
    for cert_no, *_ in history.snapshot_after_rebuilds:
        versions[cert_no] = versions.get(cert_no, 0) + 1
    # X: 有效, 暂停, 撤销; W: 有效, 过期; E: 有效, 过期; Y: 有效, 暂停; F: 有效 (an unchanged row adds nothing)
    assert versions == {"E": 2, "F": 1, "R": 3, "W": 2, "X": 3, "Y": 2}


def test_resending_and_rebuilding_change_nothing(history: History) -> None:
    """The same files again land nothing; three more builds leave the snapshot exactly as it was."""
    assert history.relanded == []
    assert history.snapshot_after_rebuilds == history.snapshot_after_loads


@pytest.fixture(scope="module")
def missed_night(fresh_database, tmp_path_factory) -> str:
    """Load 1 and its build; then loads 2 and 3 land and load before a single build."""
    urls = fresh_database(f"{DB}_missed")
    feed = feeds.get("certificates")
    tmp = tmp_path_factory.mktemp("missed")
    load_1 = next(iter(LOADS))
    for day, rows in LOADS.items():
        write_csv(tmp / "drop" / f"certificates_{day:%Y%m%d}.csv", rows)
        for batch in _land(feed, urls["loader"], day, tmp / "drop", tmp / "landing"):
            load_batch(feed, urls["loader"], batch)
            assert run_raw_gate(feed, urls["loader"], batch.batch_id, run_id=f"missed-{day}").success
        if day == load_1:
            _build(urls["transformer"], build_schema_for(day), day)
    day = date(2024, 8, 1)
    return _build(urls["transformer"], f"{build_schema_for(day)}_asked_later", day), urls["transformer"]


def test_a_missed_night_loses_no_state(missed_night) -> None:
    """R's suspension (load 2) was replaced by its reinstatement (load 3) before any build saw it;
    2024-08-01 still does not count R."""
    schema, url = missed_night
    with psycopg.connect(url) as conn:
        counted = {c for (c,) in conn.execute(f"select cert_no from {schema}.fct_t06_ems_certificates")}
        r = conn.execute(f"select status from {SNAPSHOT} where cert_no = 'R' order by updated_at").fetchall()
    assert counted == PAST[date(2024, 8, 1)]
    assert [s for (s,) in r] == ["有效", "暂停", "有效"]
