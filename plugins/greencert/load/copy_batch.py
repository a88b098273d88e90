"""COPY a landed CSV batch into raw.<feed>: decode, map headers, tag rows, stream.

Raw columns are text: typing and rules come after (COPY aborts on the first bad row, so nothing
is typed here). Each row carries batch_id, source_file and source_row (1 = first data row) so any
warehouse row can be traced to the line of the file it came from. The batch is loaded in one
transaction together with its manifest update: a killed load leaves nothing half-loaded.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from greencert.extract.files import Batch
from greencert.feeds import Feed

META_COLUMNS = ("batch_id", "source_file", "source_row")


class BatchRejected(Exception):
    """The whole batch is unusable (wrong format, missing required column, empty)."""


@dataclass(frozen=True)
class LoadResult:
    batch_id: str
    rows: int
    unknown_headers: tuple[str, ...]


def _decodes(path: Path, encoding: str) -> UnicodeDecodeError | None:
    """Stream the whole file through a strict decoder; the error if it does not decode."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return exc
    return None


def detect_encoding(path: Path, name: str | None = None) -> str:
    """UTF-8 (with or without BOM) if the whole file decodes strictly, else GB18030.

    Charset detectors call GB18030 text "GB2312" and then fail on rarer characters, so we do not
    guess: UTF-8 is strict enough that a GB file virtually never passes it.
    """
    if _decodes(path, "utf-8") is None:
        return "utf-8-sig"
    exc = _decodes(path, "gb18030")
    if exc is None:
        return "gb18030"
    raise BatchRejected(f"{name or path.name}: neither UTF-8 nor GB18030 text ({exc})")


def ensure_raw_table(conn: psycopg.Connection, feed: Feed) -> None:
    cols = [sql.SQL("{} text").format(sql.Identifier(c.name)) for c in feed.columns]
    conn.execute(
        sql.SQL(
            """create table if not exists {} (
                   {},
                   batch_id text not null,
                   source_file text not null,
                   source_row integer not null,
                   loaded_at timestamptz not null default now()
               )"""
        ).format(sql.Identifier("raw", feed.name), sql.SQL(", ").join(cols))
    )
    conn.execute(
        sql.SQL("create index if not exists {} on {} (batch_id)").format(
            sql.Identifier(f"{feed.name}_batch_idx"), sql.Identifier("raw", feed.name)
        )
    )


def _rows(batch: Batch, feed: Feed) -> tuple[list[str], list[int], tuple[str, ...], Iterator[list[str]]]:
    """Open the file; return (raw columns, their positions in the file, unknown headers, data rows).

    Errors name the file as the source sent it (the landed copy is named by its hash)."""
    path, name = batch.landed_path, batch.source_file
    fh = io.TextIOWrapper(path.open("rb"), encoding=detect_encoding(path, name), newline="")
    reader = csv.reader(fh)
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise BatchRejected(f"{name}: empty file, no header row")
    names: list[str] = []
    positions: list[int] = []
    unknown: list[str] = []
    for i, h in enumerate(header):
        col = feed.column_for_header(h)
        if col is None:
            unknown.append(h)
        elif col.name in names:
            raise BatchRejected(f"{name}: column {h!r} ({col.name}) appears twice in the header")
        else:
            names.append(col.name)
            positions.append(i)
    missing = [c for c in feed.columns if c.required and c.name not in names]
    if missing:
        cols = ", ".join(f"{c.headers[0]} ({c.name})" for c in missing)
        raise BatchRejected(f"{name}: missing required column {cols} in feed {feed.name}")
    return names, positions, tuple(unknown), reader


def load_batch(feed: Feed, conninfo: str, batch: Batch) -> LoadResult:
    try:
        names, positions, unknown, reader = _rows(batch, feed)
    except BatchRejected as exc:
        mark(conninfo, batch.batch_id, "rejected", str(exc))
        raise
    columns = [*names, *META_COLUMNS]
    copy = sql.SQL("copy {} ({}) from stdin").format(
        sql.Identifier("raw", feed.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    n = 0
    width = len(positions)
    with psycopg.connect(conninfo) as conn:  # one transaction: rows + manifest, or nothing
        ensure_raw_table(conn, feed)
        conn.execute(sql.SQL("delete from {} where batch_id = %s").format(sql.Identifier("raw", feed.name)),
                     (batch.batch_id,))
        with conn.cursor().copy(copy) as cp:
            for n, row in enumerate(reader, start=1):
                if len(row) < width or len(row) <= positions[-1]:
                    row = row + [""] * (positions[-1] + 1 - len(row))
                cp.write_row([*(row[p] or None for p in positions), batch.batch_id, batch.source_file, n])
        conn.execute(
            "update raw.landing_manifest set status = 'loaded', rows = %s, loaded_at = now() where batch_id = %s",
            (n, batch.batch_id),
        )
    if n == 0:
        reason = f"{batch.source_file}: header only, no data rows"
        mark(conninfo, batch.batch_id, "rejected", reason)
        raise BatchRejected(reason)
    return LoadResult(batch.batch_id, n, unknown)


def mark(conninfo: str, batch_id: str, status: str, reason: str | None = None) -> None:
    with psycopg.connect(conninfo) as conn:
        conn.execute("update raw.landing_manifest set status = %s, reason = %s where batch_id = %s",
                     (status, reason, batch_id))
