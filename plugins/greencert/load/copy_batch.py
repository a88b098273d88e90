"""COPY a landed batch (CSV or XLSX) into raw.<feed>: decode, map headers, tag rows, stream.

Raw columns are text: typing and rules come after (COPY aborts on the first bad row, so nothing
is typed here). Each row carries batch_id, source_file and source_row (the row number in the file
as a spreadsheet shows it, header included), so any warehouse row can be traced to its line. The
batch is loaded in one transaction together with its manifest update: a killed load leaves
nothing half-loaded.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from psycopg import sql

from greencert.extract.files import Batch
from greencert.feeds import Feed
from greencert.load.readers import HEADER_SEARCH_ROWS, UnreadableFile, is_blank_or_total, records

META_COLUMNS = ("batch_id", "source_file", "source_row")


class BatchRejected(Exception):
    """The whole batch is unusable (wrong format, missing required column, empty)."""


@dataclass(frozen=True)
class LoadResult:
    batch_id: str
    rows: int
    unknown_headers: tuple[str, ...]


def ensure_raw_table(conn: psycopg.Connection, feed: Feed) -> None:
    """raw.<feed> with a text column per registry column (added when the registry grows)."""
    table = sql.Identifier("raw", feed.name)
    conn.execute(
        sql.SQL(
            """create table if not exists {} (
                   batch_id text not null,
                   source_file text not null,
                   source_row integer not null,
                   loaded_at timestamptz not null default now()
               )"""
        ).format(table)
    )
    for c in feed.columns:
        conn.execute(sql.SQL("alter table {} add column if not exists {} text").format(table, sql.Identifier(c.name)))
    conn.execute(
        sql.SQL("create index if not exists {} on {} (batch_id)").format(
            sql.Identifier(f"{feed.name}_batch_idx"), table
        )
    )


def _header(feed: Feed, cells: list[str]) -> int:
    return sum(1 for h in cells if h and feed.column_for_header(h) is not None)


def _rows(batch: Batch, feed: Feed) -> tuple[list[str], list[int], tuple[str, ...], Iterator[tuple[int, list[str]]]]:
    """Open the file; return (raw columns, their positions, unknown headers, data records).

    The header is the row, among the first few, that names the most of the feed's columns (title
    rows above it are skipped). Errors name the file as the source sent it (the landed copy is
    named by its hash)."""
    name = batch.source_file
    try:
        rows = records(batch.landed_path, name)
        head = [r for _, r in zip(range(HEADER_SEARCH_ROWS), rows, strict=False)]
    except UnreadableFile as exc:
        raise BatchRejected(str(exc)) from None
    if not head or not any(_header(feed, cells) for _, cells in head):
        raise BatchRejected(f"{name}: empty file or no header row naming any {feed.name} column")
    at = max(range(len(head)), key=lambda i: _header(feed, head[i][1]))
    header = head[at][1]
    names: list[str] = []
    positions: list[int] = []
    unknown: list[str] = []
    for i, h in enumerate(header):
        col = feed.column_for_header(h)
        if col is None:
            if h.strip():
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
    data = itertools.chain(head[at + 1:], rows)
    return names, positions, tuple(unknown), ((n, r) for n, r in data if not is_blank_or_total(r))


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
    width = max(positions) + 1
    with psycopg.connect(conninfo) as conn:  # one transaction: rows + manifest, or nothing
        ensure_raw_table(conn, feed)
        conn.execute(sql.SQL("delete from {} where batch_id = %s").format(sql.Identifier("raw", feed.name)),
                     (batch.batch_id,))
        with conn.cursor().copy(copy) as cp:
            for row_number, row in reader:
                n += 1
                if len(row) < width:
                    row = row + [""] * (width - len(row))
                cp.write_row([*(row[p] or None for p in positions), batch.batch_id, batch.source_file,
                              row_number])
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
