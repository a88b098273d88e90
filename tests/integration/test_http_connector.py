"""The http connector against the stand-in source API, over real HTTP on loopback, landing into
the real warehouse: watermarks, retries, shifting pages, and the batches it lands."""

from __future__ import annotations

import csv
import json
import re
import urllib.request
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from greencert import feeds
from greencert.extract.http import RetryPolicy, SourceUnavailable, land_from_api
from greencert.load.copy_batch import load_batch
from greencert.load.manifest import batches_by_id
from greencert.quality.raw_gate import run_raw_gate
from standins import certificates, credit_blacklist, organic
from standins.api_server import StandinAPI

from .helpers import AS_OF, population

NEXT = AS_OF + timedelta(days=1)
FAST = RetryPolicy(attempts=4, backoff_s=0.01, timeout_s=5)  # the same retries, shorter waits


@pytest.fixture
def api(tmp_path: Path):
    server = StandinAPI(tmp_path / "api").start()
    yield server
    server.stop()


@pytest.fixture
def urls(fresh_database) -> dict[str, str]:
    return fresh_database("greencert_http")  # a fresh database each: the watermarks start empty


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def as_set(rows: list[dict[str, str]]) -> set[tuple[tuple[str, str], ...]]:
    return {tuple(sorted((k, v) for k, v in r.items() if v)) for r in rows}


def land(feed: str, urls, api: StandinAPI, tmp_path: Path, policy: RetryPolicy = FAST, page_size: int = 500):
    return land_from_api(feeds.get(feed), urls["loader"], AS_OF, api.base, tmp_path / "landing", policy, page_size)


def state(urls, feed: str):
    with psycopg.connect(urls["loader"]) as conn:
        batches = conn.execute(
            "select batch_id, source_file from raw.landing_manifest where feed = %s order by landed_at", (feed,)
        ).fetchall()
        mark = conn.execute(
            "select updated_at, boundary_keys from raw.source_watermarks where feed = %s", (feed,)
        ).fetchone()
    return batches, mark


def test_first_fetch_takes_everything_the_next_exactly_what_changed(api, urls, tmp_path) -> None:
    store = api.store / "certificates"
    day1 = read(certificates.write_csv(population(), AS_OF, store / "certificates.csv"))
    batch_id, fetched = land("certificates", urls, api, tmp_path)
    assert fetched.pages == -(-len(day1) // 500) and fetched.passes == 1 and fetched.retries == 0
    (batch,) = batches_by_id(urls["loader"], [batch_id])
    assert batch.source_file == "GET /certificates?updated_since="
    landed = read(batch.landed_path)
    assert len(landed) == len(day1) and as_set(landed) == as_set(day1)  # every record, once
    assert load_batch(feeds.get("certificates"), urls["loader"], batch).rows == len(day1)
    assert state(urls, "certificates")[1] is None  # landed and loaded: the watermark waits for the gate
    assert run_raw_gate(feeds.get("certificates"), urls["loader"], batch_id, run_id="http").success
    _, (mark, boundary) = state(urls, "certificates")
    with psycopg.connect(urls["loader"]) as conn:  # the watermark moves as far as the rows accepted
        set_aside = {
            r for (r,) in conn.execute("select source_row from dq.quarantine where batch_id = %s", (batch_id,))
        }
    accepted = [r for i, r in enumerate(landed, start=2) if i not in set_aside]
    top = max(r["更新时间"] for r in accepted)
    assert str(mark) == top and sorted(boundary) == sorted(r["证书编号"] for r in accepted if r["更新时间"] == top)

    # the next day the source holds every certificate in its new state; only the changes come
    day2 = read(certificates.write_csv(population(), NEXT, store / "certificates.csv"))
    changed = as_set(day2) - as_set(day1)
    assert changed, "the generator changes something every day"
    batch_id2, fetched2 = land("certificates", urls, api, tmp_path)
    assert f"updated_since={top.replace(' ', 'T')}" in fetched2.url
    (batch2,) = batches_by_id(urls["loader"], [batch_id2])
    assert as_set(read(batch2.landed_path)) == changed and len(read(batch2.landed_path)) == len(changed)
    assert batch2.source_file == f"GET /certificates?updated_since={top.replace(' ', 'T')}"

    # the same run again: nothing new, nothing landed, the watermark where it was
    before = state(urls, "certificates")
    assert land("certificates", urls, api, tmp_path)[0] is None
    assert state(urls, "certificates") == before and len(before[0]) == 2


def test_429_500_and_a_page_that_times_out_are_retried(api, urls, tmp_path) -> None:
    source = read(organic.write(AS_OF, api.store / "organic"))
    # faults set the way a drill sets them on a running server
    control = urllib.request.Request(
        f"{api.base}/_faults",
        method="POST",
        data=json.dumps({"script": ["429", "500", "slow", "ok", "503"], "slow_s": 6}).encode(),
    )
    with urllib.request.urlopen(control) as answer:
        assert json.load(answer)["script"] == ["429", "500", "slow", "ok", "503"]
    batch_id, fetched = land(
        "organic", urls, api, tmp_path, RetryPolicy(attempts=4, backoff_s=0.01, timeout_s=2), page_size=100
    )
    assert fetched.retries == 4  # 429, 500 and the timeout on page 1; 503 on page 2
    assert [s for _, s in api.log if s != 200] == [429, 500, 503]
    (batch,) = batches_by_id(urls["loader"], [batch_id])
    assert as_set(read(batch.landed_path)) == as_set(source) and len(read(batch.landed_path)) == len(source)


@pytest.mark.parametrize("fault, last", [("500", "HTTP 500 Internal Server Error"), ("slow", "TimeoutError")])
def test_retries_spent_fail_naming_the_feed_and_url_and_land_nothing(api, urls, tmp_path, fault, last) -> None:
    organic.write(AS_OF, api.store / "organic")
    api.set_faults(script=[fault] * 3, slow_s=1)
    policy = RetryPolicy(attempts=3, backoff_s=0.01, timeout_s=0.3)
    with pytest.raises(SourceUnavailable) as err:
        land("organic", urls, api, tmp_path, policy)
    assert re.fullmatch(
        rf"feed organic: GET {api.base}/organic\?page=1&page_size=500 failed 3 times \(last: {last}.*\); "
        r"nothing landed, the watermark stays",
        str(err.value),
    ), str(err.value)
    assert state(urls, "organic") == ([], None)
    # the source recovers: the next run takes everything
    assert land("organic", urls, api, tmp_path)[0] is not None


def test_pages_shifting_under_a_changing_total_lose_and_double_nothing(api, urls, tmp_path) -> None:
    organic.write(AS_OF, api.store / "organic")
    api.set_faults(shift=3)  # three updates land while we page: records move, total grows by one
    batch_id, fetched = land("organic", urls, api, tmp_path, page_size=100)
    assert fetched.passes >= 2 and any("total moved" in n for n in fetched.notes)
    (batch,) = batches_by_id(urls["loader"], [batch_id])
    landed = read(batch.landed_path)
    now = {r["证书编号"]: r for r in api.feeds["organic"].ordered(None)}  # the source after the updates
    assert sorted(r["证书编号"] for r in landed) == sorted(now)  # none lost, none twice
    assert all(r["更新时间"] == now[r["证书编号"]]["更新时间"] for r in landed)  # each in its latest version


def test_a_source_without_update_times_is_taken_whole_and_an_unchanged_list_is_a_no_op(api, urls, tmp_path) -> None:
    path = credit_blacklist.write(AS_OF, api.store / "credit_blacklist")
    first, fetched = land("credit_blacklist", urls, api, tmp_path)
    assert first is not None and len(fetched.items) == len(read(path))
    assert land("credit_blacklist", urls, api, tmp_path)[0] is None  # same list, same bytes: no batch
    rows = read(path)
    rows[0]["移出日期"] = "2025-06-30"  # an entry is removed from the list
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    second, fetched = land("credit_blacklist", urls, api, tmp_path)
    assert second not in (None, first) and len(fetched.items) == len(rows)
    assert [b for b, _ in state(urls, "credit_blacklist")[0]] == [first, second]
