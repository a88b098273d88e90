"""The drop-folder fallback works whatever the API does.

The contracts allow a certificates file sent by hand when the API is down. The ingest DAG's land
task used to fail on the API before it polled the drop folder, so the file was never taken exactly
when it was needed. Now the drop folder is polled whatever the API did: its files land, load and
pass the raw gate in the same run, and the run still fails at the end naming the API's error (a
user must see that the API is down; the certificates are in). The DAG's real task code runs
(tests/reliability/dagrun.py) against a real loopback port.
"""

from __future__ import annotations

import socket
from datetime import date

import psycopg
import pytest

from greencert import feeds

from ..integration.helpers import cert, write_csv
from .dagrun import run_ingest
from .hostile import Hostile, Source, send_json

CERTS = feeds.get("certificates")
D = date(2025, 6, 30)


@pytest.fixture
def urls(fresh_database) -> dict[str, str]:
    return fresh_database("greencert_fallback")


def closed_port() -> str:
    """A loopback address nothing listens on: the API is down (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def accepted(urls) -> dict[str, int]:
    with psycopg.connect(urls["loader"]) as conn:
        return dict(conn.execute("select source_file, rows from raw.landing_manifest where status = 'accepted'"))


def test_api_down_the_file_sent_by_hand_lands_and_loads_and_the_run_names_the_api_error(
    urls, tmp_path, monkeypatch
) -> None:
    drop = tmp_path / "drop"
    write_csv(drop / "certificates_by_hand.csv", [cert("H1"), cert("H2"), cert("H3")])
    base = closed_port()
    run = run_ingest(CERTS, urls, monkeypatch, drop, tmp_path / "landing", D, base)
    assert accepted(urls) == {"certificates_by_hand.csv": 3}
    assert run.failure is not None
    message = str(run.failure)
    assert message.startswith(
        "feed certificates:\nthe API fetch failed (the drop folder was still taken): "
        f"SourceUnavailable: feed certificates: GET {base}/certificates?page=1&page_size=500 "
        "failed 2 times"
    ), message
    with psycopg.connect(urls["loader"]) as conn:  # a file sent by hand does not move the API's watermark
        assert conn.execute("select count(*) from raw.source_watermarks").fetchone() == (0,)

    # the API is back: the next run fetches from it, the file already taken is not taken again
    with Source([cert("A1", 更新时间="2025-06-29 10:00:00")]) as api:
        again = run_ingest(CERTS, urls, monkeypatch, drop, tmp_path / "landing", D, api.base)
    assert again.failure is None
    assert accepted(urls) == {"certificates_by_hand.csv": 3, "GET /certificates?updated_since=": 1}


def test_an_api_answering_nonsense_does_not_stop_the_drop_folder(urls, tmp_path, monkeypatch) -> None:
    drop = tmp_path / "drop"
    write_csv(drop / "by_hand.csv", [cert("N1")])
    with Hostile(lambda h, page, q: send_json(h, {"total": 1, "items": ["not a record"]})) as api:
        run = run_ingest(CERTS, urls, monkeypatch, drop, tmp_path / "landing", D, api.base)
    assert accepted(urls) == {"by_hand.csv": 1}
    assert "SourceMalformed: feed certificates" in str(run.failure)
    assert "item 1 is a str, not an object" in str(run.failure)
