"""A hostile source on loopback: a real HTTP server on an ephemeral port of 127.0.0.1 whose answers
a test scripts (`Hostile(answer)`, answer(handler, page, query) writes the response), counting
every request; and `Source`, an honest one holding certificate records in memory, served by the
contract (`updated_since` inclusive, pages in (更新时间, 证书编号) order), whose records a test
edits between fetches."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Answer = Callable[[BaseHTTPRequestHandler, int, dict[str, str]], None]


def send_json(handler: BaseHTTPRequestHandler, body: Any, status: int = 200) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class Hostile:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                owner.requests.append(self.path)
                query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
                try:
                    owner.answer(self, int(query.get("page", "1")), query)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up on us: what a bound is for

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> Hostile:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class Source(Hostile):
    """An honest certificates API over `records` (dicts with the Chinese headers)."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        super().__init__(self._serve)

    def _serve(self, handler: BaseHTTPRequestHandler, page: int, query: dict[str, str]) -> None:
        since = query.get("updated_since")
        rows = sorted(
            (r for r in self.records if since is None or r["更新时间"].replace(" ", "T") >= since),
            key=lambda r: (r["更新时间"], r["证书编号"]),
        )
        size = int(query.get("page_size", "500"))
        send_json(
            handler,
            {"total": len(rows), "page": page, "page_size": size, "items": rows[(page - 1) * size : page * size]},
        )
