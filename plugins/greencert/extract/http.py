"""The `http` connector: page through a source's JSON API from the feed's watermark and land
the records as one batch (a CSV with the source's own headers, loaded like any file).

`GET {base}/{feed}?updated_since=…&page=N&page_size=500` → `{"total", "page", "page_size", "items"}`
(docs/feeds.md).
- Retries: 429 (its Retry-After honoured), 5xx, timeouts and dropped connections are retried with
  doubling backoff. When the attempts are spent the run fails naming the feed and the URL; nothing
  is landed and the watermark stays.
- Consistency: a source updated while we page shifts records between pages. A pass is trusted
  only if `total` was the same on every page and the pass saw `total` distinct natural keys (with a
  steady total, a skipped record means another was seen twice). Otherwise the pages are read again,
  keeping everything seen, until a pass is clean. Per natural key the latest 更新时间 wins.
- Watermark (raw.source_watermarks): the largest 更新时间 accepted and the keys stamped with it. The
  next fetch asks from that instant, inclusive, and drops those keys: a record stamped in the same
  second after our fetch is still taken, and nothing is landed twice. It does not move when the
  batch is landed, but when the raw gate accepts it, in the same transaction (`advance_watermark`),
  and only to the largest 更新时间 among the rows not quarantined (a record dated in the future is
  quarantined by `not_future`) and not after the time of the fetch plus GREENCERT_HTTP_CLOCK_SKEW_S:
  a refused batch leaves it where it was, so the next fetch asks again from there. A source whose
  records carry no 更新时间 is fetched whole every time; the content hash makes an unchanged list a
  no-op.
- Bounds (`Bounds`, settings.HTTP_MAX_*): page requests, bytes per response and per fetch, records
  (and the total a page claims), wall time. Past one the fetch is refused (SourceTooLarge) naming
  the feed, the URL and the setting. A page that is not the API's JSON shape is a SourceMalformed,
  pages that hold fewer or more records than the steady total they claim a SourceInconsistent;
  redirects are followed only on the configured origin (scheme, host, port). Every one is a
  SourceError: nothing is landed and the watermark stays.
"""

from __future__ import annotations

import csv
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO
from urllib.parse import urlencode, urljoin, urlsplit

import psycopg
from psycopg import sql

from greencert import settings
from greencert.extract.landing import land, private_dir
from greencert.feeds import Feed

log = logging.getLogger(__name__)

RETRYABLE = frozenset({429, 500, 502, 503, 504})
KEY_SEPARATOR = "\x1f"  # joins the parts of a composite natural key in boundary_keys
SCALARS = (str, int, float, bool, type(None))  # what a record's value may be (JSON without nesting)

Item = dict[str, object]


class SourceError(Exception):
    """The source did not give a usable answer: nothing is landed, the watermark stays."""


class SourceUnavailable(SourceError):
    """The source did not answer usably within the attempts allowed."""


class SourceInconsistent(SourceError):
    """The source kept changing under us, or its pages disagree with the total it claims."""


class SourceMalformed(SourceError):
    """The source answered with something that is not the API's JSON (wrong shape or types)."""


class SourceTooLarge(SourceError):
    """The source would make us read past a bound (pages, bytes, records, wall time)."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = settings.HTTP_ATTEMPTS
    backoff_s: float = settings.HTTP_BACKOFF_S  # first wait; doubles per attempt
    timeout_s: float = settings.HTTP_TIMEOUT_S  # per request (connect and each read)
    max_backoff_s: float = 60.0


@dataclass(frozen=True)
class Bounds:
    """What one fetch may cost at most (settings.HTTP_MAX_*; docs/reliability.md)."""

    max_pages: int = settings.HTTP_MAX_PAGES
    max_response_bytes: int = settings.HTTP_MAX_RESPONSE_BYTES
    max_fetch_bytes: int = settings.HTTP_MAX_FETCH_BYTES
    max_records: int = settings.HTTP_MAX_RECORDS
    max_fetch_s: float = settings.HTTP_MAX_FETCH_S


@dataclass
class Fetched:
    items: list[Item]
    passes: int
    pages: int
    retries: int
    url: str
    notes: list[str] = field(default_factory=list)
    bytes: int = 0
    fetched_at: datetime | None = None  # when the fetch started (UTC)


def _retry_after(headers: object) -> float | None:
    value = getattr(headers, "get", lambda _k: None)("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to the origin (scheme, host, port) of the URL asked for."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        target = urljoin(req.full_url, newurl)
        if _origin(target) != _origin(req.full_url):
            raise _CrossOrigin(
                f"redirected (HTTP {code}) to {target}, off the configured origin "
                f"{'://'.join(_origin(req.full_url)[:2])}: refused"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _CrossOrigin(urllib.error.URLError):
    pass


_OPENER = urllib.request.build_opener(_SameOriginRedirects)


class _Budget:
    """The bounds of one fetch, spent as it goes."""

    def __init__(self, feed: str, url: str, bounds: Bounds) -> None:
        self.feed, self.url, self.bounds = feed, url, bounds
        self.deadline = time.monotonic() + bounds.max_fetch_s
        self.pages = 0
        self.bytes = 0

    def refuse(self, what: str) -> SourceTooLarge:
        return SourceTooLarge(
            f"feed {self.feed}: GET {self.url}: {what}; the fetch is refused: nothing landed, the watermark stays"
        )

    def left_s(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self.refuse(f"the fetch took longer than {self.bounds.max_fetch_s:g} s (GREENCERT_HTTP_MAX_FETCH_S)")
        return left

    def page(self) -> None:
        self.pages += 1
        if self.pages > self.bounds.max_pages:
            raise self.refuse(
                f"more than {self.bounds.max_pages} page requests (GREENCERT_HTTP_MAX_PAGES): pages that never end?"
            )

    def read(self, resp: object, page_url: str) -> bytes:
        """The body, read in pieces, within the per-response and per-fetch byte bounds and the time."""
        limit = self.bounds.max_response_bytes
        length = getattr(resp, "headers", {}).get("Content-Length")
        if length and length.isdigit() and int(length) > limit:
            raise self.refuse(
                f"page {page_url} announces {int(length)} bytes, more than {limit} (GREENCERT_HTTP_MAX_RESPONSE_BYTES)"
            )
        parts: list[bytes] = []
        got = 0
        read = getattr(resp, "read1", None) or resp.read  # type: ignore[attr-defined]
        while chunk := read(min(1 << 16, limit + 1 - got)):  # read1: whatever arrived, not a full block
            got += len(chunk)
            self.bytes += len(chunk)
            if got > limit:
                raise self.refuse(f"page {page_url} is larger than {limit} bytes (GREENCERT_HTTP_MAX_RESPONSE_BYTES)")
            if self.bytes > self.bounds.max_fetch_bytes:
                raise self.refuse(
                    f"the pages add up to more than {self.bounds.max_fetch_bytes} bytes "
                    "(GREENCERT_HTTP_MAX_FETCH_BYTES)"
                )
            self.left_s()
            parts.append(chunk)
        return b"".join(parts)


def _shape(feed: str, url: str, body: object) -> dict:
    """The page if it is the API's {total, page, page_size, items}; else a SourceMalformed naming why."""

    def bad(why: str) -> SourceMalformed:
        return SourceMalformed(
            f"feed {feed}: GET {url}: the answer is not the API's "
            f"{{total, page, page_size, items}} JSON: {why}; nothing landed, the watermark stays"
        )

    if not isinstance(body, dict):
        raise bad(f"a JSON {type(body).__name__}, not an object")
    missing = [k for k in ("total", "items") if k not in body]
    if missing:
        raise bad(f"no {', '.join(map(repr, missing))}")
    total = body["total"]
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise bad(f"'total' is {total!r}, not a count")
    if not isinstance(body["items"], list):
        raise bad(f"'items' is a {type(body['items']).__name__}, not a list")
    for i, item in enumerate(body["items"]):
        if not isinstance(item, dict):
            raise bad(f"item {i + 1} is a {type(item).__name__}, not an object")
        for k, v in item.items():
            if not isinstance(v, SCALARS):
                raise bad(f"item {i + 1}: {k!r} is a {type(v).__name__}, not a value")
    return body


def get_page(feed: str, url: str, policy: RetryPolicy, budget: _Budget | None = None) -> tuple[dict, int]:
    """One page as JSON, and the retries it took."""
    budget = budget or _Budget(feed, url, Bounds())
    last = ""
    for attempt in range(1, policy.attempts + 1):
        wait = None
        budget.page()
        try:
            with _OPENER.open(url, timeout=min(policy.timeout_s, budget.left_s())) as resp:
                raw = budget.read(resp, url)
            body = json.loads(raw)
        except urllib.error.HTTPError as exc:
            if exc.code not in RETRYABLE:
                raise SourceUnavailable(
                    f"feed {feed}: GET {url} answered HTTP {exc.code} {exc.reason} "
                    "(not retried); nothing landed, the watermark stays"
                ) from None
            last, wait = f"HTTP {exc.code} {exc.reason}", _retry_after(exc.headers)
        except _CrossOrigin as exc:
            raise SourceUnavailable(
                f"feed {feed}: GET {url} {exc.reason}; nothing landed, the watermark stays"
            ) from None
        except (
            TimeoutError,
            urllib.error.URLError,
            ConnectionError,
            http.client.HTTPException,
            ValueError,
        ) as exc:  # ValueError: a truncated or non-JSON body (retried: it may be transient)
            last = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"[:300]
        else:
            return _shape(feed, url, body), attempt - 1
        if attempt < policy.attempts:
            delay = min(policy.max_backoff_s, wait if wait is not None else policy.backoff_s * 2 ** (attempt - 1))
            delay = min(delay, max(budget.left_s() - 0.001, 0))
            log.warning(
                "feed %s: GET %s: %s; retry %d/%d in %.2fs", feed, url, last, attempt, policy.attempts - 1, delay
            )
            time.sleep(delay)
    raise SourceUnavailable(
        f"feed {feed}: GET {url} failed {policy.attempts} times (last: {last}); nothing landed, the watermark stays"
    )


def _timestamp(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).strip().replace("/", "-"))
    except ValueError:
        return None  # the row rules quarantine it; it just cannot move the watermark


class _Keys:
    """The natural key and 更新时间 of an item, whatever alias its keys use."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self._column: dict[str, str | None] = {}

    def column(self, header: str) -> str | None:
        if header not in self._column:
            col = self.feed.column_for_header(header)
            self._column[header] = col.name if col else None
        return self._column[header]

    def key(self, item: Item) -> str:
        by_column = {self.column(h): v for h, v in item.items()}
        return KEY_SEPARATOR.join(str(by_column.get(c) or "").strip() for c in self.feed.natural_key)

    def updated_at(self, item: Item) -> datetime | None:
        for h, v in item.items():
            if self.column(h) == "updated_at":
                return _timestamp(v)
        return None


def fetch(
    feed: Feed,
    base: str,
    since: datetime | None = None,
    skip_keys: Iterable[str] = (),
    policy: RetryPolicy | None = None,
    page_size: int = 500,
    max_passes: int = 5,
    bounds: Bounds | None = None,
) -> Fetched:
    """Every record changed since `since` (all if None), latest version per natural key, within
    `bounds` (SourceTooLarge past one)."""
    policy, bounds = policy or RetryPolicy(), bounds or Bounds()
    started = datetime.now(UTC)
    keys = _Keys(feed)
    params = {"updated_since": since.isoformat()} if since else {}
    url = f"{base.rstrip('/')}/{feed.name}?{urlencode(params, safe=':')}"  # readable in errors
    budget = _Budget(feed.name, url, bounds)
    best: dict[str, tuple[datetime | None, list[Item]]] = {}  # key → (更新时间, its latest rows)
    previous: list[Item] | None = None
    pages = retries = 0
    notes: list[str] = []
    for n in range(1, max_passes + 1):
        totals: list[int] = []
        seen: set[str] = set()
        in_pass: list[Item] = []
        page = 1
        while True:
            page_url = f"{url}{'&' if params else ''}{urlencode({'page': page, 'page_size': page_size})}"
            body, r = get_page(feed.name, page_url, policy, budget)
            pages, retries = pages + 1, retries + r
            totals.append(body["total"])
            if body["total"] > bounds.max_records or len(in_pass) + len(body["items"]) > bounds.max_records:
                raise budget.refuse(
                    f"page {page_url} claims a total of {body['total']} records and "
                    f"{len(in_pass) + len(body['items'])} arrived so far: more than "
                    f"{bounds.max_records} (GREENCERT_HTTP_MAX_RECORDS)"
                )
            for item in body["items"]:
                k, u = keys.key(item), keys.updated_at(item)
                seen.add(k)
                in_pass.append(item)
                held_u, held = best.get(k, (None, None))
                if held is None or (u or datetime.min) > (held_u or datetime.min):
                    best[k] = (u, [item])
                elif u == held_u and item not in held:
                    held.append(item)  # the source contradicts itself: both go on, the row rules judge
            if not body["items"] or len(in_pass) >= body["total"]:  # a source may page smaller
                break
            page += 1
        steady = len(set(totals)) == 1
        if steady and len(in_pass) != totals[-1]:
            # pages that hold fewer (or more) records than the total they all claim: not a shift
            # while we page (that keeps the count), the source's answer contradicts itself
            raise SourceInconsistent(
                f"feed {feed.name}: GET {url}: every page claims a total of {totals[-1]} records but the pages "
                f"held {len(in_pass)}: the source's total disagrees with what arrived; nothing landed, "
                "the watermark stays"
            )
        if steady and (len(seen) == totals[-1] or in_pass == previous):
            break
        notes.append(
            f"pass {n}: total {'steady' if steady else 'moved ' + '→'.join(map(str, dict.fromkeys(totals)))}"
            f", {len(seen)} distinct keys of {totals[-1]}: reading the pages again"
        )
        log.warning("feed %s: %s", feed.name, notes[-1])
        previous = in_pass
    else:
        raise SourceInconsistent(
            f"feed {feed.name}: GET {url} kept changing during {max_passes} passes "
            f"({'; '.join(notes)}); nothing landed, the watermark stays"
        )
    skip = set(skip_keys)
    items = [i for k, (u, held) in best.items() for i in held if not (since is not None and k in skip and u == since)]
    return Fetched(items, n, pages, retries, url, notes, budget.bytes, started)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def write_csv(feed: Feed, items: list[Item], path: Path) -> None:
    """The records as a CSV with the source's headers: registry columns in registry order, then
    any header the registry does not know (the loader reports those); rows in key order, so the
    same records always make the same bytes (and the same batch)."""
    keys = _Keys(feed)
    headers = list(dict.fromkeys(h for item in items for h in item))
    order = {c.name: i for i, c in enumerate(feed.columns)}
    headers.sort(key=lambda h: order.get(keys.column(h) or "", len(order)))
    rows = sorted(
        ([_cell(item.get(h)) for h in headers] for item in items),
        key=lambda row: (keys.key(dict(zip(headers, row, strict=True))), row),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(headers)
        writer.writerows(rows)


def land_from_api(
    feed: Feed,
    conninfo: str,
    logical_date: date,
    base: str,
    landing: Path = settings.LANDING,
    policy: RetryPolicy | None = None,
    page_size: int = 500,
    bounds: Bounds | None = None,
) -> tuple[str | None, Fetched]:
    """Fetch from the watermark and land what came as one batch; (batch id or None, the fetch).

    The watermark does not move here: it moves when the raw gate accepts the batch
    (`advance_watermark`), to what was accepted."""
    with psycopg.connect(conninfo) as conn:
        mark = conn.execute(
            "select updated_at, boundary_keys from raw.source_watermarks where feed = %s", (feed.name,)
        ).fetchone()
    since, boundary = (mark[0], mark[1]) if mark else (None, [])
    fetched = fetch(feed, base, since, boundary, policy, page_size, bounds=bounds)
    if not fetched.items:
        return None, fetched
    tmp = private_dir(landing / feed.name / ".incoming", landing) / f"{uuid.uuid4().hex}.csv"
    write_csv(feed, fetched.items, tmp)
    try:
        with psycopg.connect(conninfo) as conn:
            name = f"{API_SOURCE_PREFIX}{feed.name}?updated_since={since.isoformat() if since else ''}"
            batch_id = land(conn, feed.name, tmp, name, logical_date, landing)
    finally:
        tmp.unlink(missing_ok=True)
    return batch_id, fetched


API_SOURCE_PREFIX = "GET /"  # the source_file of a batch landed from the API


def advance_watermark(
    conn: psycopg.Connection, feed: Feed, batch_id: str, skew_s: float = settings.HTTP_CLOCK_SKEW_S
) -> datetime | None:
    """Move the feed's watermark for an accepted API batch, on `conn` (in the caller's transaction,
    the one that accepts the batch): to the largest 更新时间 among the batch's rows that were not
    quarantined and are not after the time the fetch was landed plus `skew_s`, with the keys
    stamped with it; never backwards. A drop-folder batch, a refused batch, quarantined rows and
    records dated after the fetch never move it. The new watermark, or None if it did not move."""
    if feed.connector != "http" or not any(c.name == "updated_at" for c in feed.columns):
        return None
    row = conn.execute(
        "select source_file, (landed_at at time zone %s) from raw.landing_manifest where batch_id = %s",
        (settings.TIMEZONE, batch_id),
    ).fetchone()
    if row is None or not row[0].startswith(API_SOURCE_PREFIX):
        return None
    cap = row[1] + timedelta(seconds=skew_s)
    cols = sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c)) for c in (*feed.natural_key, "updated_at"))
    rows = conn.execute(
        sql.SQL(
            """select {} from {} r where r.batch_id = %s and not exists
           (select 1 from dq.quarantine q where q.batch_id = r.batch_id and q.source_row = r.source_row)"""
        ).format(cols, sql.Identifier("raw", feed.name)),
        (batch_id,),
    ).fetchall()
    stamped = [
        (u, KEY_SEPARATOR.join(str(v or "").strip() for v in r[:-1]))
        for r in rows
        if (u := _timestamp(r[-1])) is not None and u <= cap
    ]
    if not stamped:
        return None
    top = max(u for u, _ in stamped)
    mark = conn.execute(
        "select updated_at, boundary_keys from raw.source_watermarks where feed = %s for update", (feed.name,)
    ).fetchone()
    if mark is not None and top < mark[0]:
        return None
    at_top = {k for u, k in stamped if u == top} | (set(mark[1]) if mark is not None and top == mark[0] else set())
    conn.execute(
        """insert into raw.source_watermarks (feed, updated_at, boundary_keys, batch_id)
           values (%s, %s, %s, %s)
           on conflict (feed) do update set updated_at = excluded.updated_at,
               boundary_keys = excluded.boundary_keys, batch_id = excluded.batch_id, fetched_at = now()""",
        (feed.name, top, sorted(at_top), batch_id),
    )
    return top
