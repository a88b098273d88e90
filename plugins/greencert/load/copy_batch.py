"""COPY a landed batch (CSV or XLSX) into raw.<feed>: decode, map headers, tag rows, stream.

Raw columns are text: typing and rules come after (COPY aborts on the first bad row, so nothing
is typed here). Each row carries batch_id, source_file and source_row (the row number in the file
as a spreadsheet shows it, header included), so any warehouse row can be traced to its line. The
batch is loaded in one transaction together with its manifest update: a killed load leaves
nothing half-loaded.

Rows go to one `COPY … (FORMAT csv)` in blocks of about a megabyte. A CSV is read as blocks of
whole lines: a block whose every line is a plain record (no quotes, as many cells as the header,
all mapped in order, not blank, not 合计 — `readers.plain_lines`) is sent as it is, each line with
its batch_id, source_file and source_row appended; any other block is read record by record with
`csv.reader`, exactly as `readers.records` reads the file, and the mapped cells re-quoted. XLSX
sheets are read row by row. A CSV is read as UTF-8 (PostgreSQL checks the bytes of the plain
blocks); if it turns out not to be, the load starts again on the encoding `detect_encoding` finds
(GB18030), or the batch is refused.
"""

from __future__ import annotations

import csv
import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from greencert import settings
from greencert.extract.landing import Batch
from greencert.feeds import Feed
from greencert.load import readers
from greencert.load.manifest import mark, mark_loaded
from greencert.load.readers import HEADER_SEARCH_ROWS, CsvSource, UnreadableFile, csv_records, is_blank_or_total

# source_extra: the non-empty cells of a CSV record past the header's last (an unquoted comma in a
# cell shifts or drops values): the row rule extra_cells quarantines such a row
META_COLUMNS = ("batch_id", "source_file", "source_extra", "source_row")


class BatchRejected(Exception):
    """The whole batch is unusable (wrong format, missing required column, empty)."""


class _NotUtf8(Exception):
    """The file is not UTF-8 after all: detect its encoding and load again."""


@dataclass(frozen=True)
class LoadResult:
    batch_id: str
    rows: int
    unknown_headers: tuple[str, ...]


@dataclass(frozen=True)
class _Header:
    names: tuple[str, ...]  # raw columns, in the file's order
    positions: tuple[int, ...]  # their cells
    unknown: tuple[str, ...]
    cells: int  # cells in the header row

    @property
    def plain(self) -> bool:
        """Every header cell is a column, in order: a plain line's cells are the columns."""
        return self.positions == tuple(range(self.cells))


def ensure_raw_table(conn: psycopg.Connection, feed: Feed) -> None:
    """raw.<feed> with a text column per registry column (added when the registry grows), and the
    caller's lock on it until its transaction ends (two loads of one feed take turns). The loader owns
    no raw table and may create none: raw.ensure_table (warehouse/roles.py) makes it as greencert_owner."""
    conn.execute("select raw.ensure_table(%s, %s)", (feed.name, ["source_extra", *(c.name for c in feed.columns)]))


def _header_score(feed: Feed, cells: list[str]) -> int:
    return sum(1 for h in cells if h and feed.column_for_header(h) is not None)


def _not_a_list(feed: Feed, name: str, path: Path) -> str:
    """Why a file has no header row, in the words of what it looks like (errors name the file as
    the source sent it: the landed copy is named by its hash)."""
    with path.open("rb") as fh:
        start = fh.read(4096)
    text = start.removeprefix(readers.BOM).lstrip().lower()
    if not start:
        what = "empty file (0 bytes)"
    elif not text:
        what = "empty file (only blank lines)"
    elif text.startswith(b"<") and (b"<html" in text or b"<!doctype html" in text or b"<body" in text):
        what = "an HTML page, not CSV or XLSX data (an error page sent in place of the list?)"
    elif text.startswith((b"<?xml", b"<")):
        what = "XML or markup, not CSV or XLSX data"
    elif text.startswith((b"{", b"[")):
        what = "JSON, not CSV or XLSX data (an API error sent in place of the list?)"
    else:
        what = f"no header row naming any {feed.name} column in its first {HEADER_SEARCH_ROWS} rows"
    return f"{name}: {what}"


def _map_header(feed: Feed, name: str, head: list[tuple[int, list[str]]], path: Path) -> tuple[int, _Header]:
    """The header among the first records (the one naming the most of the feed's columns; title
    rows above it are skipped): its index in `head` and its mapping. Errors name the file as the
    source sent it (the landed copy is named by its hash)."""
    if not head or not any(_header_score(feed, cells) for _, cells in head):
        raise BatchRejected(_not_a_list(feed, name, path))
    at = max(range(len(head)), key=lambda i: _header_score(feed, head[i][1]))
    header = head[at][1]
    if any("\x00" in h for h in header):
        raise BatchRejected(
            f"{name}: the header (row {head[at][0]}) holds a NUL byte (\\x00): not a header that "
            "can be read as sent; the file is refused"
        )
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
    return at, _Header(tuple(names), tuple(positions), tuple(unknown), len(header))


def _quote(value: str) -> str:
    """A cell for COPY csv: empty → unquoted (NULL), anything else quoted (kept exactly)."""
    return '"' + value.replace('"', '""') + '"' if value else ""


class _Rows:
    """Writes rows to the COPY as csv lines: the mapped cells, batch_id, source_file, source_extra,
    source_row. `extra_from`: the header's cell count, past which a CSV record's non-empty cells go
    to source_extra (None for XLSX, whose cells cannot shift)."""

    def __init__(self, cp: psycopg.Copy, header: _Header, batch: Batch, extra_from: int | None) -> None:
        self._meta = f",{_quote(batch.batch_id)},{_quote(batch.source_file)},"
        self._btail = (self._meta.replace("%", "%%") + ",%d\n").encode()  # a plain line has no extra cell
        self._extra_from = extra_from
        self._cp = cp
        self._positions = header.positions
        self._width = max(header.positions) + 1
        self._parts: list[str] = []
        self._size = 0
        self.count = 0
        self._name = batch.source_file
        self._max_rows = settings.MAX_FILE_ROWS
        self._deadline = time.monotonic() + settings.MAX_LOAD_S

    def _bounded(self) -> None:
        if self.count > self._max_rows:
            raise BatchRejected(
                f"{self._name}: more than {self._max_rows} data rows (GREENCERT_MAX_FILE_ROWS); the file is refused"
            )
        if time.monotonic() > self._deadline:
            raise BatchRejected(
                f"{self._name}: reading it took longer than {settings.MAX_LOAD_S:g} s "
                "(GREENCERT_MAX_LOAD_S); the file is refused"
            )

    def record(self, number: int, cells: list[str]) -> None:
        """One record as csv.reader (or the XLSX reader) gave it: skipped if blank or 合计, padded
        with empty (NULL) cells if short."""
        if is_blank_or_total(cells):
            return
        if len(cells) < self._width:
            cells = cells + [""] * (self._width - len(cells))
        extra = ""
        if self._extra_from is not None and len(cells) > self._extra_from:
            past = cells[self._extra_from :]
            while past and not past[-1].strip():  # trailing empty cells (`a,b,,,`) are nothing
                past.pop()
            extra = ",".join(past)
        line = ",".join([_quote(cells[p]) for p in self._positions]) + self._meta + _quote(extra) + f",{number}\n"
        self._parts.append(line)
        self._size += len(line)
        self.count += 1
        if self._size >= readers.BLOCK_BYTES:
            self._bounded()
            self.flush()

    def plain(self, lines: list[bytes], first: int) -> None:
        """Plain lines (`readers.plain_lines`) numbered from `first`, each sent as it is."""
        self.flush()
        out: list[bytes] = [b""] * (2 * len(lines))
        out[0::2] = lines
        out[1::2] = map(self._btail.__mod__, range(first, first + len(lines)))
        self.count += len(lines)
        self._bounded()
        self._cp.write(b"".join(out))

    def flush(self) -> None:
        self._bounded()
        if self._parts:
            self._cp.write("".join(self._parts).encode())
            self._parts.clear()
            self._size = 0


@contextmanager
def _copy(feed: Feed, conninfo: str, batch: Batch, header: _Header, is_csv: bool) -> Iterator[_Rows]:
    """One transaction: replace the batch's rows by the ones written, and mark it loaded."""
    table = sql.Identifier("raw", feed.name)
    stmt = sql.SQL("copy {} ({}) from stdin (format csv, encoding 'UTF8')").format(
        table, sql.SQL(", ").join(map(sql.Identifier, [*header.names, *META_COLUMNS]))
    )
    with psycopg.connect(conninfo) as conn:  # one transaction: rows + manifest, or nothing
        ensure_raw_table(conn, feed)
        conn.execute(sql.SQL("delete from {} where batch_id = %s").format(table), (batch.batch_id,))
        with conn.cursor().copy(stmt) as cp:
            rows = _Rows(cp, header, batch, header.cells if is_csv else None)
            yield rows
            rows.flush()
        mark_loaded(conn, batch.batch_id, rows.count)


def _load_xlsx(feed: Feed, conninfo: str, batch: Batch) -> tuple[int, tuple[str, ...]]:
    records = readers.records(batch.landed_path, batch.source_file)
    head = list(itertools.islice(records, HEADER_SEARCH_ROWS))
    at, header = _map_header(feed, batch.source_file, head, batch.landed_path)
    with _copy(feed, conninfo, batch, header, is_csv=False) as rows:
        for number, cells in itertools.chain(head[at + 1 :], records):
            rows.record(number, cells)
    return rows.count, header.unknown


def _load_csv(feed: Feed, conninfo: str, batch: Batch, encoding: str | None) -> tuple[int, tuple[str, ...]]:
    """encoding None: read as UTF-8, and raise _NotUtf8 at the first byte that is not."""
    done = 0  # the last record read: a malformed one is the next
    try:
        with CsvSource(batch.landed_path, encoding or "utf-8") as src:
            head: list[tuple[int, list[str]]] = []
            for cells in itertools.islice(csv.reader(src.lines(), strict=readers.STRICT), HEADER_SEARCH_ROWS):
                done += 1
                head.append((done, cells))
            at, header = _map_header(feed, batch.source_file, head, batch.landed_path)
            with _copy(feed, conninfo, batch, header, is_csv=True) as rows:
                for number, cells in head[at + 1 :]:
                    rows.record(number, cells)
                for number, record, lines in csv_records(src, header.cells if header.plain else None, len(head)):
                    if record is not None:  # (number, cells, None) or (first number, None, lines)
                        rows.record(number, record)
                        done = number
                    elif lines is not None:
                        rows.plain(lines, number)
                        done = number + len(lines) - 1
    except (UnicodeDecodeError, psycopg.errors.CharacterNotInRepertoire):
        if encoding is not None:
            raise
        raise _NotUtf8 from None
    except csv.Error as exc:
        raise BatchRejected(_malformed(batch.source_file, done + 1, exc)) from None
    return rows.count, header.unknown


def _malformed(name: str, row: int, exc: csv.Error) -> str:
    why = str(exc)
    if "unexpected end of data" in why:
        why = "a quoted cell opened in this row never closes (the rest of the file would run into it)"
    elif "field larger than field limit" in why:
        why = (
            f"a cell longer than {readers.FIELD_LIMIT_BYTES >> 20} MB (a quote that does not close where the cell "
            "ends?)"
        )
    elif "expected after" in why:
        why = f"text after the closing quote of a quoted cell ({exc})"
    return f"{name}: not well-formed CSV at row {row}: {why}; the file is refused (rows after it cannot be told apart)"


def _nul_reason(feed: Feed, batch: Batch) -> str:
    """The first cell holding a NUL byte: PostgreSQL text cannot store it (COPY refused the batch)."""
    name = batch.source_file
    records = readers.records(batch.landed_path, name)
    head = list(itertools.islice(records, HEADER_SEARCH_ROWS))
    at, _ = _map_header(feed, name, head, batch.landed_path)
    header = head[at][1]
    for number, cells in itertools.chain(head[at + 1 :], records):
        for i, cell in enumerate(cells):
            if "\x00" in cell:
                column = header[i] if i < len(header) else f"cell {i + 1}"
                return (
                    f"{name}: row {number}, column {column}: a NUL byte (\\x00), which PostgreSQL text cannot "
                    "hold, so the row cannot be stored as sent; the file is refused (ask the source to send "
                    "it again without NUL bytes)"
                )
    return f"{name}: text PostgreSQL cannot store (a NUL byte?); the file is refused"


def load_batch(feed: Feed, conninfo: str, batch: Batch) -> LoadResult:
    """Load one batch, or refuse it: whatever in the file cannot be read (an unexpected error
    included) marks the batch `rejected` with the file and the reason and raises BatchRejected, so
    the feed's other batches go on. Only the warehouse being unreachable is not the file's fault:
    that propagates and the batch stays as it was, to be tried again."""
    try:
        return _load_batch(feed, conninfo, batch)
    except BatchRejected:
        raise
    except (psycopg.OperationalError, psycopg.InterfaceError):
        raise
    except Exception as exc:  # noqa: BLE001 — any other failure to read is this file's refusal
        reason = f"{batch.source_file}: cannot be read ({type(exc).__name__}: {str(exc)[:300]}); the file is refused"
        mark(conninfo, batch.batch_id, "rejected", reason)
        raise BatchRejected(reason) from exc


def _load_batch(feed: Feed, conninfo: str, batch: Batch) -> LoadResult:
    try:
        try:
            size = batch.landed_path.stat().st_size
            if size > settings.MAX_FILE_BYTES:
                raise BatchRejected(
                    f"{batch.source_file}: {size} bytes, more than {settings.MAX_FILE_BYTES} "
                    "(GREENCERT_MAX_FILE_BYTES); the file is refused unread"
                )
            if readers.is_xlsx(batch.landed_path):
                n, unknown = _load_xlsx(feed, conninfo, batch)
            else:
                try:
                    n, unknown = _load_csv(feed, conninfo, batch, None)
                except _NotUtf8:
                    encoding = readers.detect_encoding(batch.landed_path, batch.source_file)
                    n, unknown = _load_csv(feed, conninfo, batch, encoding)
        except psycopg.errors.CharacterNotInRepertoire:  # valid UTF-8 by now: a NUL byte
            raise BatchRejected(_nul_reason(feed, batch)) from None
    except UnreadableFile as exc:
        mark(conninfo, batch.batch_id, "rejected", str(exc))
        raise BatchRejected(str(exc)) from None
    except BatchRejected as exc:
        mark(conninfo, batch.batch_id, "rejected", str(exc))
        raise
    if n == 0:
        reason = f"{batch.source_file}: header only, no data rows"
        mark(conninfo, batch.batch_id, "rejected", reason)
        raise BatchRejected(reason)
    return LoadResult(batch.batch_id, n, unknown)
