"""The http watermark only moves for what was accepted, and never past the time of the fetch.

A real source on loopback (tests/reliability/hostile.Source) serves certificate records by the
contract; each fetch goes the ingest DAG's way (land_from_api → load_batch → run_raw_gate) into a
fresh database. The watermark (raw.source_watermarks) must move only when the raw gate accepts a
batch, only to the largest 更新时间 among its rows that were not quarantined, and never past the
time the fetch was landed plus GREENCERT_HTTP_CLOCK_SKEW_S; a refused batch leaves it where it was,
so the next fetch asks again from there and the good records come.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from greencert import feeds, settings
from greencert.extract.http import RetryPolicy, land_from_api
from greencert.load.copy_batch import BatchRejected, load_batch
from greencert.load.manifest import batches_by_id
from greencert.quality.raw_gate import run_raw_gate

from ..integration.helpers import cert
from .hostile import Source

CERTS = feeds.get("certificates")
FAST = RetryPolicy(attempts=2, backoff_s=0.01, timeout_s=5)


@pytest.fixture
def urls(fresh_database) -> dict[str, str]:
    return fresh_database("greencert_watermark")


def ingest(urls, source: Source, tmp_path, day: date = date(2025, 6, 30)) -> tuple[str | None, str, str | None]:
    """One run of the ingest's API path: (batch id, the URL asked, the batch's status or the refusal)."""
    batch_id, fetched = land_from_api(CERTS, urls["loader"], day, source.base, tmp_path / "landing", FAST)
    if batch_id is None:
        return None, fetched.url, None
    (batch,) = batches_by_id(urls["loader"], [batch_id])
    try:
        load_batch(CERTS, urls["loader"], batch)
    except BatchRejected as exc:
        return batch_id, fetched.url, str(exc)
    gate = run_raw_gate(CERTS, urls["loader"], batch_id, run_id="watermark")
    return batch_id, fetched.url, "accepted" if gate.success else gate.summary()


def watermark(urls) -> tuple[datetime, list[str]] | None:
    with psycopg.connect(urls["loader"]) as conn:
        row = conn.execute(
            "select updated_at, boundary_keys from raw.source_watermarks where feed = 'certificates'"
        ).fetchone()
    return (row[0], sorted(row[1])) if row else None


def quarantined(urls, batch_id: str) -> set[tuple[str, str]]:
    with psycopg.connect(urls["loader"]) as conn:
        return set(conn.execute("select column_name, rule from dq.quarantine where batch_id = %s", (batch_id,)))


def test_records_dated_9999_or_in_the_future_are_quarantined_and_do_not_move_the_watermark(urls, tmp_path) -> None:
    source = Source(
        [
            cert("A", 更新时间="2025-06-01 08:00:00"),
            cert("B", 更新时间="2025-06-02 08:00:00"),
            cert("X", 更新时间="9999-12-31 00:00:00"),
            cert("Y", 更新时间="2030-01-01 00:00:00"),
        ]
    )
    with source:
        batch_id, url, status = ingest(urls, source, tmp_path)
        assert status == "accepted" and "updated_since" not in url
        # 9999 is past the years a timestamp may have; 2030 is a date still to come
        with psycopg.connect(urls["loader"]) as conn:
            assert set(
                conn.execute("select source_row, column_name, rule from dq.quarantine where batch_id = %s", (batch_id,))
            ) == {(4, "updated_at", "timestamp"), (5, "updated_at", "future_date")}
        assert watermark(urls) == (datetime(2025, 6, 2, 8), ["B"])  # the last accepted record, not 9999
        # a record changed the next day is still fetched (with 9999 as the watermark it never was)
        source.records.append(cert("C", 更新时间="2025-06-03 08:00:00"))
        batch_id, url, status = ingest(urls, source, tmp_path)
        assert "updated_since=2025-06-02T08:00:00" in url and status == "accepted"
        assert watermark(urls) == (datetime(2025, 6, 3, 8), ["C"])


def test_a_batch_refused_for_a_nul_byte_leaves_the_watermark_and_its_records_come_again(urls, tmp_path) -> None:
    good = [cert("A", 更新时间="2025-06-01 08:00:00"), cert("B", 更新时间="2025-06-02 08:00:00")]
    with Source([cert("A0", 更新时间="2025-05-01 08:00:00")]) as source:
        assert ingest(urls, source, tmp_path)[2] == "accepted"
        before = watermark(urls)
        assert before == (datetime(2025, 5, 1, 8), ["A0"])
        source.records += [*good, cert("N", 更新时间="2025-06-03 08:00:00", 组织名称="苏州\x00有限公司")]
        batch_id, url, status = ingest(urls, source, tmp_path)
        assert "a NUL byte" in status and "row 4, column 组织名称" in status, status
        assert watermark(urls) == before  # refused: it did not move
        with psycopg.connect(urls["loader"]) as conn:
            assert conn.execute(
                "select status from raw.landing_manifest where batch_id = %s", (batch_id,)
            ).fetchone() == ("rejected",)
        # the source mends the record: the next fetch asks again from the old position, and the good
        # records of the refused batch come with it
        source.records[-1] = cert("N", 更新时间="2025-06-03 09:00:00")
        batch_id, url, status = ingest(urls, source, tmp_path)
        assert "updated_since=2025-05-01T08:00:00" in url and status == "accepted"
        with psycopg.connect(urls["loader"]) as conn:
            taken = {
                r for (r,) in conn.execute("select cert_no from raw.certificates where batch_id = %s", (batch_id,))
            }
        assert taken == {"A", "B", "N"}
        assert watermark(urls) == (datetime(2025, 6, 3, 9), ["N"])


def test_the_watermark_never_passes_the_fetch_time_plus_the_clock_skew(urls, tmp_path) -> None:
    now = datetime.now(ZoneInfo(settings.TIMEZONE)).replace(tzinfo=None, microsecond=0)
    ahead = now + timedelta(seconds=settings.HTTP_CLOCK_SKEW_S + 120)  # a source clock running ahead
    source = Source([cert("A", 更新时间="2025-06-01 08:00:00"), cert("F", 更新时间=ahead.isoformat(sep=" "))])
    with source:
        batch_id, _, status = ingest(urls, source, tmp_path, day=now.date())
        assert status == "accepted"
        if ahead.date() == now.date():  # the same day: the row rule lets it in; only the cap holds it back
            assert quarantined(urls, batch_id) == set()
        assert watermark(urls) == (datetime(2025, 6, 1, 8), ["A"])
        # the next fetch asks from A again: F comes again (nothing lost), the watermark still short of it
        _, url, _ = ingest(urls, source, tmp_path, day=now.date())
        assert "updated_since=2025-06-01T08:00:00" in url
        assert watermark(urls)[0] < ahead


def test_a_refused_fetch_and_a_drop_folder_batch_leave_the_watermark(urls, tmp_path) -> None:
    from greencert.extract.files import land_new_files

    from ..integration.helpers import write_csv

    with Source([cert("A", 更新时间="2025-06-01 08:00:00")]) as source:
        assert ingest(urls, source, tmp_path)[2] == "accepted"
    before = watermark(urls)
    # a file sent by hand with later records moves nothing: the API is asked again from where it was
    write_csv(tmp_path / "drop" / "certs.csv", [cert("H", 更新时间="2025-06-20 08:00:00")])
    (batch,) = land_new_files(
        CERTS, urls["loader"], date(2025, 6, 30), dropbox=tmp_path / "drop", landing=tmp_path / "landing"
    )
    load_batch(CERTS, urls["loader"], batch)
    assert run_raw_gate(CERTS, urls["loader"], batch.batch_id, run_id="watermark").success
    assert watermark(urls) == before
