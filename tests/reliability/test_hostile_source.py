"""A hostile source cannot make the http connector read without bound, crash, or wander off.

Each case is a real HTTP server on loopback (an ephemeral port) answering as an attacker or a broken
source would; the connector runs with small bounds so every case ends in well under a second, and
must end in a SourceError naming the feed, the URL and the reason (the ingest DAG then lands
nothing from the API, the watermark stays, and the drop folder is still taken:
test_csv_fallback). Every request the server saw is counted: a bound holds when the count does.
"""

from __future__ import annotations

import time
from datetime import date

import pytest

from greencert import feeds
from greencert.extract.http import (
    Bounds,
    RetryPolicy,
    SourceError,
    SourceInconsistent,
    SourceMalformed,
    SourceTooLarge,
    SourceUnavailable,
    fetch,
)

from ..integration.helpers import cert
from .hostile import Hostile, Source, send_json

CERTS = feeds.get("certificates")
FAST = RetryPolicy(attempts=2, backoff_s=0.01, timeout_s=2)
SMALL = Bounds(max_pages=20, max_response_bytes=256 << 10, max_fetch_bytes=2 << 20, max_records=5000, max_fetch_s=3)


def items(page: int, n: int, pad: int = 0) -> list[dict[str, str]]:
    return [cert(f"P{page:06d}N{i:04d}", **({"覆盖范围": "x" * pad} if pad else {})) for i in range(n)]


def refused(
    answer,
    kind: type[SourceError] = SourceError,
    bounds: Bounds = SMALL,
    page_size: int = 10,
    policy: RetryPolicy = FAST,
) -> tuple[str, Hostile, float]:
    with Hostile(answer) as server:
        started = time.monotonic()
        with pytest.raises(SourceError) as err:
            fetch(CERTS, server.base, policy=policy, page_size=page_size, bounds=bounds)
        took = time.monotonic() - started
    assert isinstance(err.value, kind), err.value
    message = str(err.value)
    assert message.startswith(f"feed certificates: GET {server.base}/certificates"), message
    assert message.endswith("nothing landed, the watermark stays"), message
    return message, server, took


def test_pages_that_never_end_stop_at_the_page_bound() -> None:
    # every page full, the total always one page ahead: the stream the connector paged 15,796 times
    message, server, took = refused(
        lambda h, page, q: send_json(
            h, {"total": (page + 1) * 10, "page": page, "page_size": 10, "items": items(page, 10)}
        ),
        SourceTooLarge,
    )
    assert "more than 20 page requests (GREENCERT_HTTP_MAX_PAGES)" in message
    assert len(server.requests) == 20 and took < 3


def test_a_growing_total_of_fat_records_stops_at_the_fetch_byte_bound() -> None:
    # the 1.1 GB in 20 s: each page ~60 KB, under the page bound; the fetch adds them up
    message, server, _ = refused(
        lambda h, page, q: send_json(
            h, {"total": page * 10 + 10, "page": page, "page_size": 10, "items": items(page, 10, 6000)}
        ),
        SourceTooLarge,
        Bounds(max_pages=1000, max_response_bytes=1 << 20, max_fetch_bytes=1 << 20, max_records=10**6, max_fetch_s=10),
    )
    assert "the pages add up to more than 1048576 bytes (GREENCERT_HTTP_MAX_FETCH_BYTES)" in message
    assert len(server.requests) <= 20


def test_a_claimed_total_the_pages_do_not_hold_is_a_source_error() -> None:
    # 1,000,000 claimed, 3 records sent, then empty pages
    message, server, _ = refused(
        lambda h, page, q: send_json(
            h, {"total": 1_000_000, "page": page, "page_size": 10, "items": items(page, 3) if page == 1 else []}
        ),
        SourceInconsistent,
        Bounds(max_records=1_000_000),
    )
    assert "every page claims a total of 1000000 records but the pages held 3" in message
    assert len(server.requests) == 2


def test_a_total_past_the_record_bound_is_refused_at_the_first_page() -> None:
    message, server, _ = refused(
        lambda h, page, q: send_json(h, {"total": 10**9, "page": page, "page_size": 10, "items": items(page, 10)}),
        SourceTooLarge,
    )
    assert "claims a total of 1000000000 records" in message and "GREENCERT_HTTP_MAX_RECORDS" in message
    assert len(server.requests) == 1


def test_a_huge_body_is_refused_by_its_content_length_unread() -> None:
    def huge(h, page, q) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(10 << 30))  # 10 GB announced
        h.end_headers()
        h.wfile.write(b'{"total": 1, "items": [')

    message, server, _ = refused(huge, SourceTooLarge)
    assert f"announces {10 << 30} bytes, more than {256 << 10} (GREENCERT_HTTP_MAX_RESPONSE_BYTES)" in message


def test_an_endless_body_without_a_length_stops_at_the_response_bound() -> None:
    def endless(h, page, q) -> None:
        h.send_response(200)
        h.end_headers()  # no Content-Length: read until the connection closes, which it never does
        h.wfile.write(b'{"total": 1, "items": ["')
        while True:
            h.wfile.write(b"A" * 65536)

    message, server, took = refused(endless, SourceTooLarge)
    assert f"is larger than {256 << 10} bytes (GREENCERT_HTTP_MAX_RESPONSE_BYTES)" in message and took < 3


def test_a_source_that_drips_stops_at_the_wall_time_bound() -> None:
    def drip(h, page, q) -> None:
        h.send_response(200)
        h.end_headers()
        while True:
            h.wfile.write(b" ")
            h.wfile.flush()
            time.sleep(0.05)

    message, server, took = refused(drip, SourceTooLarge, Bounds(max_fetch_s=1))
    assert "the fetch took longer than 1 s (GREENCERT_HTTP_MAX_FETCH_S)" in message and took < 2


def test_not_json_is_a_source_error_after_its_retries() -> None:
    def html(h, page, q) -> None:
        body = b"<html><body>502 Bad Gateway</body></html>"
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    message, server, _ = refused(html, SourceUnavailable)
    assert "failed 2 times (last: JSONDecodeError" in message and len(server.requests) == 2


@pytest.mark.parametrize(
    "body, why",
    [
        ([1, 2, 3], "a JSON list, not an object"),
        ({"items": []}, "no 'total'"),
        ({"total": 3}, "no 'items'"),
        ({"total": "3", "items": []}, "'total' is '3', not a count"),
        ({"total": -1, "items": []}, "'total' is -1, not a count"),
        ({"total": True, "items": []}, "'total' is True, not a count"),
        ({"total": 1, "items": {"证书编号": "A"}}, "'items' is a dict, not a list"),
        ({"total": 2, "items": [cert("A"), "B"]}, "item 2 is a str, not an object"),
        ({"total": 1, "items": [{**cert("A"), "组织名称": {"$ne": 1}}]}, "item 1: '组织名称' is a dict, not a value"),
        ({"total": 1, "items": [{**cert("A"), "证书编号": ["A", "B"]}]}, "item 1: '证书编号' is a list, not a value"),
    ],
)
def test_a_wrong_shape_is_a_clear_source_error_at_once(body, why) -> None:
    message, server, _ = refused(lambda h, page, q: send_json(h, body), SourceMalformed)
    assert f"the answer is not the API's {{total, page, page_size, items}} JSON: {why}" in message
    assert len(server.requests) == 1  # not retried: asking again gets the same wrong answer


def test_a_redirect_off_the_configured_origin_is_refused_unfollowed() -> None:
    with Source([cert("A")]) as elsewhere:  # another port: another origin

        def redirect(h, page, q) -> None:
            h.send_response(302)
            h.send_header("Location", f"{elsewhere.base}/certificates?page={page}")
            h.send_header("Content-Length", "0")
            h.end_headers()

        message, server, _ = refused(redirect, SourceUnavailable)
        assert f"redirected (HTTP 302) to {elsewhere.base}/certificates?page=1, off the configured origin" in message
        assert elsewhere.requests == []  # never asked


def test_a_redirect_on_the_same_origin_is_followed() -> None:
    with Source([cert("A"), cert("B")]) as source:
        honest = source.answer

        def moved(h, page, q) -> None:
            if h.path.startswith("/v2/"):
                return honest(h, page, q)
            h.send_response(301)
            h.send_header("Location", "/v2" + h.path)
            h.send_header("Content-Length", "0")
            h.end_headers()

        source.answer = moved
        got = fetch(CERTS, source.base, policy=FAST, bounds=SMALL)
    assert sorted(i["证书编号"] for i in got.items) == ["A", "B"]


def test_a_hostile_night_changes_nothing_published(night, tmp_path, monkeypatch) -> None:
    """The ingest DAG's tasks against everything at once — pages that never end, a workbook that
    cannot be read, a link to a secret in the drop folder — on a copy of a published night: every
    refusal is named in the run's failure, and `marts`, `bi` and the history are byte for byte."""
    from .dagrun import run_ingest
    from .faults import checksums, copy_night
    from .test_unreadable_input import comma_number_xlsx

    database = "greencert_hostile_night"
    urls = copy_night(database)
    before = checksums(database)
    drop = tmp_path / "drop"
    drop.mkdir()
    comma_number_xlsx(drop / "bad.xlsx")
    (tmp_path / "pgpass").write_text("greencert_loader:secret\n")
    (drop / "pgpass.csv").symlink_to(tmp_path / "pgpass")
    monkeypatch.setattr(Bounds.__init__, "__defaults__", tuple(SMALL.__dict__.values()))  # small bounds, by default
    with Hostile(
        lambda h, page, q: send_json(
            h, {"total": (page + 1) * 10, "page": page, "page_size": 10, "items": items(page, 10)}
        )
    ) as api:
        run = run_ingest(CERTS, urls, monkeypatch, drop, tmp_path / "landing", date(2025, 6, 30), api.base)
    message = str(run.failure)
    assert "SourceTooLarge" in message and "GREENCERT_HTTP_MAX_PAGES" in message, message
    assert "bad.xlsx: row 3 of the workbook cannot be read" in message
    assert "pgpass.csv: a symbolic link, not a regular file" in message
    assert checksums(database) == before
