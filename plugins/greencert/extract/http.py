"""The `http` connector: page through a source's JSON API from the feed's watermark and land
the records as one batch (a CSV with the source's own headers, loaded like any file).

`GET {base}/{feed}?updated_since=…&page=N&page_size=500` → `{"total", "page", "page_size", "items"}`
(../shared/feeds/README.md).
- Retries: 429 (its Retry-After honoured), 5xx, timeouts and dropped connections are retried with
  doubling backoff. When the attempts are spent the run fails naming the feed and the URL; nothing
  is landed and the watermark stays.
- Consistency: a source updated while we page shifts records between pages. A pass is trusted
  only if `total` was the same on every page and the pass saw `total` distinct natural keys (with a
  steady total, a skipped record means another was seen twice). Otherwise the pages are read again,
  keeping everything seen, until a pass is clean. Per natural key the latest 更新时间 wins.
- Watermark (raw.source_watermarks): the largest 更新时间 landed and the keys stamped with it. The
  next fetch asks from that instant, inclusive, and drops those keys: a record stamped in the same
  second after our fetch is still taken, and nothing is landed twice. It moves in the transaction
  that lands the batch. A source whose records carry no 更新时间 is fetched whole every time; the
  content hash makes an unchanged list a no-op.
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
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlencode

import psycopg

from greencert import settings
from greencert.extract.landing import land
from greencert.feeds import Feed

log = logging.getLogger(__name__)

RETRYABLE = frozenset({429, 500, 502, 503, 504})
KEY_SEPARATOR = "\x1f"  # joins the parts of a composite natural key in boundary_keys

Item = dict[str, object]


class SourceUnavailable(Exception):
    """The source did not answer usably within the attempts allowed."""


class SourceInconsistent(Exception):
    """The source kept changing under us: no pass over its pages was consistent."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = settings.HTTP_ATTEMPTS
    backoff_s: float = settings.HTTP_BACKOFF_S  # first wait; doubles per attempt
    timeout_s: float = settings.HTTP_TIMEOUT_S  # per request (connect and each read)
    max_backoff_s: float = 60.0


@dataclass
class Fetched:
    items: list[Item]
    passes: int
    pages: int
    retries: int
    url: str
    notes: list[str] = field(default_factory=list)


def _retry_after(headers: object) -> float | None:
    value = getattr(headers, "get", lambda _k: None)("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def get_page(feed: str, url: str, policy: RetryPolicy) -> tuple[dict, int]:
    """One page as JSON, and the retries it took."""
    last = ""
    for attempt in range(1, policy.attempts + 1):
        wait = None
        try:
            with urllib.request.urlopen(url, timeout=policy.timeout_s) as resp:
                body = json.loads(resp.read())
            if not (isinstance(body, dict) and isinstance(body.get("total"), int)
                    and isinstance(body.get("items"), list)):
                raise ValueError("the answer is not the API's {total, page, page_size, items} JSON")
            return body, attempt - 1
        except urllib.error.HTTPError as exc:
            if exc.code not in RETRYABLE:
                raise SourceUnavailable(f"feed {feed}: GET {url} answered HTTP {exc.code} {exc.reason} "
                                        "(not retried); nothing landed, the watermark stays") from None
            last, wait = f"HTTP {exc.code} {exc.reason}", _retry_after(exc.headers)
        except (TimeoutError, urllib.error.URLError, ConnectionError, http.client.HTTPException,
                ValueError) as exc:  # ValueError: a truncated or non-JSON body
            last = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        if attempt < policy.attempts:
            delay = min(policy.max_backoff_s, wait if wait is not None else policy.backoff_s * 2 ** (attempt - 1))
            log.warning("feed %s: GET %s: %s; retry %d/%d in %.2fs", feed, url, last, attempt,
                        policy.attempts - 1, delay)
            time.sleep(delay)
    raise SourceUnavailable(f"feed {feed}: GET {url} failed {policy.attempts} times (last: {last}); "
                            "nothing landed, the watermark stays")


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
    feed: Feed, base: str, since: datetime | None = None, skip_keys: Iterable[str] = (),
    policy: RetryPolicy | None = None, page_size: int = 500, max_passes: int = 5,
) -> Fetched:
    """Every record changed since `since` (all if None), latest version per natural key."""
    policy = policy or RetryPolicy()
    keys = _Keys(feed)
    params = {"updated_since": since.isoformat()} if since else {}
    url = f"{base.rstrip('/')}/{feed.name}?{urlencode(params, safe=':')}"  # readable in errors
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
            body, r = get_page(feed.name, page_url, policy)
            pages, retries = pages + 1, retries + r
            totals.append(body["total"])
            for item in body["items"]:
                k, u = keys.key(item), keys.updated_at(item)
                seen.add(k)
                in_pass.append(item)
                held_u, held = best.get(k, (None, None))
                if held is None or (u or datetime.min) > (held_u or datetime.min):
                    best[k] = (u, [item])
                elif u == held_u and item not in held:
                    held.append(item)  # the source contradicts itself: both go on, the row rules judge
            if not body["items"] or page * page_size >= body["total"]:
                break
            page += 1
        steady = len(set(totals)) == 1
        if steady and (len(seen) == totals[-1] or in_pass == previous):
            break
        notes.append(f"pass {n}: total {'steady' if steady else 'moved ' + '→'.join(map(str, dict.fromkeys(totals)))}"
                     f", {len(seen)} distinct keys of {totals[-1]}: reading the pages again")
        log.warning("feed %s: %s", feed.name, notes[-1])
        previous = in_pass
    else:
        raise SourceInconsistent(f"feed {feed.name}: GET {url} kept changing during {max_passes} passes "
                                 f"({'; '.join(notes)}); nothing landed, the watermark stays")
    skip = set(skip_keys)
    items = [i for k, (u, held) in best.items() for i in held
             if not (since is not None and k in skip and u == since)]
    return Fetched(items, n, pages, retries, url, notes)


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
    rows = sorted(([_cell(item.get(h)) for h in headers] for item in items),
                  key=lambda row: (keys.key(dict(zip(headers, row, strict=True))), row))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(headers)
        writer.writerows(rows)


def land_from_api(
    feed: Feed, conninfo: str, logical_date: date, base: str, landing: Path = settings.LANDING,
    policy: RetryPolicy | None = None, page_size: int = 500,
) -> tuple[str | None, Fetched]:
    """Fetch from the watermark and land what came as one batch; (batch id or None, the fetch)."""
    with psycopg.connect(conninfo) as conn:
        mark = conn.execute("select updated_at, boundary_keys from raw.source_watermarks where feed = %s",
                            (feed.name,)).fetchone()
    since, boundary = (mark[0], mark[1]) if mark else (None, [])
    fetched = fetch(feed, base, since, boundary, policy, page_size)
    if not fetched.items:
        return None, fetched
    keys = _Keys(feed)
    stamped = [(keys.updated_at(i), keys.key(i)) for i in fetched.items]
    top = max((u for u, _ in stamped if u is not None), default=None)
    tmp = landing / feed.name / ".incoming" / f"{uuid.uuid4().hex}.csv"
    write_csv(feed, fetched.items, tmp)
    try:
        with psycopg.connect(conninfo) as conn:  # the batch and the watermark, together or neither
            name = f"GET /{feed.name}?updated_since={since.isoformat() if since else ''}"
            batch_id = land(conn, feed.name, tmp, name, logical_date, landing)
            if top is not None and (since is None or top >= since):
                at_top = sorted({k for u, k in stamped if u == top} | (set(boundary) if top == since else set()))
                conn.execute(
                    """insert into raw.source_watermarks (feed, updated_at, boundary_keys, batch_id)
                       values (%s, %s, %s, %s)
                       on conflict (feed) do update set updated_at = excluded.updated_at,
                           boundary_keys = excluded.boundary_keys, batch_id = excluded.batch_id,
                           fetched_at = now()""",
                    (feed.name, top, at_top, batch_id or "(same content as an earlier batch)"),
                )
    finally:
        tmp.unlink(missing_ok=True)
    return batch_id, fetched
