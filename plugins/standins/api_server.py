"""The stand-in of the sources' HTTP API, on loopback, for the tests and the demo.

It serves every CSV in <store>/<feed>/ (what the generator writes for the `http` feeds) through
the contract's API (docs/feeds.md):
`GET /<feed>?updated_since=ISO&page=1&page_size=500` → `{"total", "page", "page_size", "items"}`,
records in (更新时间, natural key) order, `updated_since` inclusive, empty cells as null.

Faults, as the sources show them in the wild, set with `set_faults(...)`, `POST /_faults` (JSON) or
`greencert source-api --faults …`:
- `script`: the answers to the next data requests, in order: "429", "500", "503", "slow" (sleeps
  `slow_s` before answering) or "ok"; after the script, every answer is normal.
- `shift`: the source is updated while a client pages through it: on each of the next `shift`
  requests for page 2 or later, the first record of the order is touched (its 更新时间 moves to the
  end) and a record held back until then appears, so `total` moves and pages shift.
"""

from __future__ import annotations

import csv
import json
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from greencert import feeds, settings

Record = dict[str, str | None]
MAX_PAGE_SIZE = 5000


def _read_csv(path: Path) -> list[Record]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030")
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        return []
    header, *data = rows
    return [{h: (v if v != "" else None) for h, v in zip(header, row, strict=False)} for row in data if any(row)]


class _Feed:
    """One feed's records as the source holds them now, and the faults' changes to them."""

    def __init__(self, name: str, folder: Path) -> None:
        self.feed = feeds.get(name)
        self.folder = folder
        self.signature: tuple = ()
        self.records: list[Record] = []
        self.held_back: list[Record] = []
        self._order: dict[str | None, list[Record]] = {}
        self.updated_header: str | None = None
        self.key_headers: list[str] = []

    def refresh(self) -> None:
        files = sorted(self.folder.glob("*.csv"))
        signature = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
        if signature == self.signature:
            return
        self.signature, self.held_back, self._order = signature, [], {}
        self.records = [r for p in files for r in _read_csv(p)]
        headers = list(dict.fromkeys(h for r in self.records[:1] for h in r))
        by_column = {c.name: h for h in headers if (c := self.feed.column_for_header(h))}
        self.updated_header = by_column.get("updated_at")
        self.key_headers = [by_column[c] for c in self.feed.natural_key if c in by_column]

    def sort_key(self, r: Record) -> tuple:
        stamp = (r.get(self.updated_header) or "") if self.updated_header else ""
        return (stamp, *[(r.get(h) or "") for h in self.key_headers])

    def ordered(self, since: str | None) -> list[Record]:
        if self.updated_header is None:
            since = None  # records without 更新时间 cannot be filtered: the whole list, every time
        if since not in self._order:
            chosen = [
                r
                for r in self.records
                if since is None or self.updated_header is None or (r.get(self.updated_header) or "") >= since
            ]
            self._order[since] = sorted(chosen, key=self.sort_key)
        return self._order[since]

    def hold_back(self) -> None:
        if not self.held_back and len(self.records) > 1:
            newest = max(self.records, key=self.sort_key)
            self.records.remove(newest)
            self.held_back.append(newest)
            self._order = {}

    def shift(self) -> None:
        """An update lands while someone pages: one record touched, one new record visible."""
        order = sorted(self.records, key=self.sort_key)
        if not order:
            return
        if self.updated_header:
            last = max((r.get(self.updated_header) or "") for r in order)
            try:
                base = datetime.fromisoformat(last)
            except ValueError:
                base = datetime(2000, 1, 1)
            order[0][self.updated_header] = (base + timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")
            for r in self.held_back:
                r[self.updated_header] = (base + timedelta(seconds=2)).strftime("%Y-%m-%d %H:%M:%S")
        self.records.extend(self.held_back)
        self.held_back = []
        self._order = {}


class StandinAPI:
    """A threaded HTTP server on loopback; `start()` runs it in a daemon thread."""

    def __init__(self, store: Path = settings.API_STORE, port: int = 0, host: str = "127.0.0.1") -> None:
        self.store = store
        self.lock = threading.Lock()
        self.feeds: dict[str, _Feed] = {}
        self.script: list[str] = []
        self.slow_s = 5.0
        self.shift = 0
        self.log: list[tuple[str, int]] = []  # (path, status) of every data request, for tests and drills
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet; `api.log` keeps what tests need
                pass

            def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout)
                    pass

            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                status, body, headers = api.answer(self.path)
                self._send(status, body, headers)

            def do_POST(self) -> None:  # noqa: N802
                if urlsplit(self.path).path != "/_faults":
                    return self._send(404, {"error": "not found"})
                length = int(self.headers.get("Content-Length") or 0)
                api.set_faults(**json.loads(self.rfile.read(length) or b"{}"))
                self._send(200, {"script": api.script, "shift": api.shift, "slow_s": api.slow_s})

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    def set_faults(
        self,
        script: list[str] | None = None,
        slow_s: float | None = None,
        shift: int | None = None,
    ) -> None:
        with self.lock:
            if script is not None:
                unknown = set(script) - {"429", "500", "502", "503", "504", "slow", "ok"}
                if unknown:
                    raise ValueError(f"unknown faults {sorted(unknown)}")
                self.script = list(script)
            if slow_s is not None:
                self.slow_s = float(slow_s)
            if shift is not None:
                self.shift = int(shift)

    def answer(self, path: str) -> tuple[int, object, dict[str, str] | None]:
        parts = urlsplit(path)
        name = parts.path.strip("/")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self.lock:
            fault = self.script.pop(0) if self.script else "ok"
        if fault == "slow":
            time.sleep(self.slow_s)
        elif fault != "ok":
            self.log.append((path, int(fault)))
            return int(fault), {"error": f"injected {fault}"}, {"Retry-After": "0"} if fault == "429" else None
        folder = self.store / name
        if name not in feeds.registry() or not folder.is_dir():
            self.log.append((path, 404))
            return 404, {"error": f"no feed {name!r} here"}, None
        try:
            page = int(query.get("page", "1"))
            size = int(query.get("page_size", "500"))
            since = query.get("updated_since") or None
            if since:
                since = datetime.fromisoformat(since).strftime("%Y-%m-%d %H:%M:%S")
            if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
                raise ValueError("page ≥ 1 and 1 ≤ page_size ≤ 5000")
        except ValueError as exc:
            self.log.append((path, 400))
            return 400, {"error": str(exc)}, None
        with self.lock:
            feed = self.feeds.setdefault(name, _Feed(name, folder))
            feed.refresh()
            if self.shift > 0:
                feed.hold_back()
                if page >= 2:
                    self.shift -= 1
                    feed.shift()
            chosen = feed.ordered(since)
            items = [dict(r) for r in chosen[(page - 1) * size : page * size]]  # later shifts must not alter it
            body = {"total": len(chosen), "page": page, "page_size": size, "items": items}
            self.log.append((path, 200))
            return 200, body, None

    def start(self) -> StandinAPI:
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="standin-api", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
