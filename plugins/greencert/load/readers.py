"""Read a landed file as (row number, cells) records, streaming: CSV in UTF-8/GB18030, or XLSX.

Row numbers are the ones a person sees when opening the file (header row included), so a
quarantine entry or an error can send them straight to the offending line.

`records` is the reference reader (`csv.reader` over the decoded text). The loader reads CSV
through `CsvSource` instead: the same records, but as UTF-8 bytes in blocks of whole lines, so a
block whose every line is a plain record (`plain_lines`) can go to COPY without per-cell Python.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from itertools import repeat
from operator import itemgetter
from pathlib import Path

from greencert import settings

TOTAL_MARKERS = ("合计", "总计", "小计")
HEADER_SEARCH_ROWS = 10  # XLSX lists carry one or two title rows above the header


BOM = codecs.BOM_UTF8
BLOCK_BYTES = 1 << 20  # CsvSource reads this much at a time (tests make it tiny to mix block kinds)
# The longest cell read (csv's default, 128 KiB, refused a 1 MB 覆盖范围 with a bare csv.Error). A
# longer one is refused with the file (`copy_batch`): in a register it is a quote that never closes.
FIELD_LIMIT_BYTES = 32 << 20
csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT_BYTES))
# Strict quoting (csv.reader(..., strict=True)): a quoted cell that never closes, or text after a
# closing quote, is an error instead of silently running the rest of the file into one cell (rows
# lost) or dropping the quotes (a value altered). A quote inside an unquoted cell (苏州"甲"公司) is
# still read as it is.
STRICT = True


class UnreadableFile(Exception):
    pass


@dataclass(frozen=True)
class _DecodeError:
    exc: UnicodeDecodeError
    offset: int  # of the first byte that does not decode, in the file
    at_end: bool  # only the end is wrong: a character cut in two


def _decodes(path: Path, encoding: str) -> _DecodeError | None:
    """Stream the whole file through a strict decoder; where it fails, if it does."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    fed = 0
    with path.open("rb") as fh:
        for chunk in itertools.chain(iter(lambda: fh.read(1 << 20), b""), [b""]):  # b"": the end
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                pending = max(len(exc.object) - len(chunk), 0)  # bytes held back from earlier chunks
                return _DecodeError(exc, fed - pending + exc.start, at_end=not chunk)
            fed += len(chunk)
    return None


def detect_encoding(path: Path, name: str | None = None) -> str:
    """UTF-8 (with or without BOM) if the whole file decodes strictly, else GB18030.

    Charset detectors call GB18030 text "GB2312" and then fail on rarer characters, so we do not
    guess: UTF-8 is strict enough that a GB file virtually never passes it.
    """
    utf8 = _decodes(path, "utf-8")
    if utf8 is None:
        return "utf-8-sig"
    gb = _decodes(path, "gb18030")
    if gb is None:
        return "gb18030"
    name, size = name or path.name, path.stat().st_size
    with path.open("rb") as fh:
        if fh.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            raise UnreadableFile(
                f"{name}: UTF-16 text (it starts with a UTF-16 byte-order mark), not UTF-8 or "
                "GB18030: save it as UTF-8 and send it again"
            )
    if utf8.at_end:
        # UTF-8 all the way to a character cut in two at the very end: a file cut short in transit
        raise UnreadableFile(
            f"{name}: truncated file: its UTF-8 text ends inside a character (byte "
            f"{utf8.offset + 1} of {size}); send the whole file again"
        )
    # the reading that went further names the likelier encoding and where the file breaks it
    worst = max((utf8, gb), key=lambda e: e.offset)
    raise UnreadableFile(
        f"{name}: neither UTF-8 nor GB18030 text (as {worst.exc.encoding}: byte "
        f"{worst.offset + 1} of {size}: {worst.exc.reason})"
    )


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _csv(path: Path, name: str) -> Iterator[tuple[int, list[str]]]:
    with io.TextIOWrapper(path.open("rb"), encoding=detect_encoding(path, name), newline="") as fh:
        yield from enumerate(csv.reader(fh, strict=STRICT), start=1)


def check_zip(path: Path, name: str, max_unpacked: int | None = None, max_ratio: int | None = None) -> None:
    """An XLSX is a zip: refuse one that would unpack past the bounds (a zip bomb, a sharedStrings.xml
    of gigabytes) before anything is unpacked. zipfile holds each member to its declared size (a
    member that inflates further fails its CRC), so the directory's sizes are the sizes read."""
    max_unpacked = settings.MAX_XLSX_UNPACKED_BYTES if max_unpacked is None else max_unpacked
    max_ratio = settings.MAX_XLSX_RATIO if max_ratio is None else max_ratio
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnreadableFile(f"{name}: not a readable XLSX workbook (BadZipFile: {exc})") from None
    total = sum(m.file_size for m in members)
    if total > max_unpacked:
        raise UnreadableFile(
            f"{name}: the workbook unpacks to {total} bytes, more than {max_unpacked} "
            "(GREENCERT_MAX_XLSX_UNPACKED_BYTES): refused unread"
        )
    for m in members:
        if m.file_size > 1 << 20 and m.file_size > max_ratio * max(m.compress_size, 1):
            raise UnreadableFile(
                f"{name}: workbook member {m.filename} unpacks {m.file_size} bytes from "
                f"{m.compress_size} (more than {max_ratio}x, GREENCERT_MAX_XLSX_RATIO): a zip bomb? "
                "refused unread"
            )


def _xlsx(path: Path, name: str) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    check_zip(path, name)
    fh = path.open("rb")  # a handle, so a workbook sent under a .csv name still opens
    try:
        # read_only streams the sheet; a full load costs ~50x the file size in memory
        wb = load_workbook(fh, read_only=True, data_only=True)
    except Exception as exc:  # any failure to open is the same fact: not a usable workbook
        fh.close()
        raise UnreadableFile(f"{name}: not a readable XLSX workbook ({type(exc).__name__}: {exc})") from None
    try:
        sheet = wb.worksheets[0]
        number = 0
        rows = enumerate(sheet.iter_rows(values_only=True), start=1)
        while True:
            try:
                got = next(rows, None)
                if got is None:
                    return
                number, values = got
                cells = [_cell(v) for v in values]
            except Exception as exc:  # a cell openpyxl cannot read (a number cell holding `1,200`, …)
                raise UnreadableFile(
                    f"{name}: row {number + 1} of the workbook cannot be read ({type(exc).__name__}: "
                    f"{str(exc)[:200]}): a cell whose content does not match its type? the file "
                    "is refused"
                ) from None
            yield number, cells
    finally:
        wb.close()
        fh.close()


def is_xlsx(path: Path) -> bool:
    """By content, not by the name it came with (a workbook sent as .csv is still a workbook)."""
    with path.open("rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def records(path: Path, name: str) -> Iterator[tuple[int, list[str]]]:
    """Every row of the file with its row number; XLSX by content, not by the name it came with."""
    return _xlsx(path, name) if is_xlsx(path) else _csv(path, name)


def is_blank_or_total(cells: list[str]) -> bool:
    """Empty rows and the 合计 (total) rows some lists put at the bottom are not data."""
    first = next((c.strip() for c in cells if c and c.strip()), "")
    return not first or first.replace(" ", "").startswith(TOTAL_MARKERS)


# The first UTF-8 byte of every character str.strip() removes (ASCII and Unicode spaces, the last
# of which is U+3000; a unit test checks), and the comma: a line starting with none of them has a
# non-blank first cell.
SPACE_LEADS = frozenset({ord(",")} | {chr(i).encode()[0] for i in range(0x3001) if chr(i).isspace()})
# A 合计 row's first non-blank cell starts with a marker; on a line whose first cell is not blank,
# the line starts with the marker's first character (these lead bytes, then these characters).
TOTAL_STARTS = frozenset(m[0].encode() for m in TOTAL_MARKERS)
TOTAL_LEADS = frozenset(t[0] for t in TOTAL_STARTS)


class CsvSource:
    """A CSV file as UTF-8 bytes (GB18030 is converted, a UTF-8 BOM dropped), read sequentially
    either a line at a time (`readline`, split where `open(newline="")` splits: \\n, \\r\\n,
    \\r) or a block of whole lines at a time (`peek` then `advance`). UTF-8 is not validated here:
    the strict decode of a line (`lines`) or PostgreSQL's COPY does that."""

    def __init__(self, path: Path, encoding: str) -> None:
        self._fh = path.open("rb")
        self._gb = encoding == "gb18030"
        if self._gb or self._fh.read(len(BOM)) != BOM:
            self._fh.seek(0)
        self._raw = b""  # read, not converted yet: the tail after the last line break
        self._buf = b""
        self._pos = 0
        self._eof = False
        self.offset = 0  # bytes of converted text consumed so far

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> CsvSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fill(self) -> bool:
        """Append converted text to the buffer; False at the end of the file."""
        while True:
            chunk = self._fh.read(BLOCK_BYTES)
            if chunk:
                self._raw += chunk
                # cut after a line break: never inside a character (in GB18030 too, \\n and \\r
                # are never part of a multi-byte character)
                cut = max(self._raw.rfind(b"\n"), self._raw.rfind(b"\r")) + 1
                if not cut:
                    continue
                text, self._raw = self._raw[:cut], self._raw[cut:]
            elif self._raw:
                text, self._raw = self._raw, b""
            else:
                self._eof = True
                return False
            if self._gb:
                text = text.decode("gb18030").encode("utf-8")
            self._buf = self._buf[self._pos :] + text
            self._pos = 0
            return True

    def readline(self) -> bytes:
        """The next line with its line break; b"" at the end of the file."""
        while True:
            buf, pos = self._buf, self._pos
            n = buf.find(b"\n", pos)
            r = buf.find(b"\r", pos, n if n >= 0 else len(buf))
            if r >= 0 and (r + 1 < len(buf) or self._eof):
                end = r + 2 if buf[r + 1 : r + 2] == b"\n" else r + 1
            elif r < 0 and n >= 0:
                end = n + 1
            elif self._eof:
                end = len(buf)
            else:
                self._fill()
                continue
            self._pos = end
            self.offset += end - pos
            return buf[pos:end]

    def lines(self) -> Iterator[str]:
        """Decoded lines for csv.reader, pulled one at a time (csv.reader never reads ahead of the
        record it is on, so after each record `offset` is where the next one starts)."""
        for line in iter(self.readline, b""):
            yield line.decode("utf-8")

    def peek(self) -> bytes:
        """The buffered lines up to the last \\n (or whatever is buffered if none): b"" at the end."""
        if self._pos >= len(self._buf) and not self._fill():
            return b""
        cut = self._buf.rfind(b"\n", self._pos) + 1
        return self._buf[self._pos : cut or len(self._buf)]

    def advance(self, n: int) -> None:
        self._pos += n
        self.offset += n


def plain_lines(block: bytes, fields: int) -> list[bytes] | None:
    """The lines of a block if each is a plain data record of exactly `fields` cells: no quote, no
    bare \\r, not empty, a first cell that is not blank and does not start like 合计. Such a line
    is its cells joined by commas, as csv.reader would split it, and COPY (FORMAT csv) reads it the
    same way (an empty cell is NULL). None if any line is not (the caller then takes the block
    record by record). Only whole-block scans and C-level maps: no Python per line."""
    if not block.endswith(b"\n") or b'"' in block:
        return None
    if b"\r" in block:
        if block.count(b"\r") != block.count(b"\r\n"):
            return None
        block = block.replace(b"\r\n", b"\n")
    lines = block[:-1].split(b"\n")
    try:
        firsts = set(map(itemgetter(0), lines))
    except IndexError:  # an empty line
        return None
    if not SPACE_LEADS.isdisjoint(firsts):
        return None
    if not TOTAL_LEADS.isdisjoint(firsts) and any(
        not TOTAL_STARTS.isdisjoint(map(itemgetter(slice(0, n)), lines)) for n in {len(t) for t in TOTAL_STARTS}
    ):
        return None
    if set(map(bytes.count, lines, repeat(b","))) != {fields - 1}:
        return None
    if len(block) > FIELD_LIMIT_BYTES and max(map(len, lines)) > FIELD_LIMIT_BYTES:
        return None  # csv.reader, record by record, holds each cell to the limit (as `records` does)
    return lines


def csv_records(
    src: CsvSource, fields: int | None, after: int = 0
) -> Iterator[tuple[int, list[str] | None, list[bytes] | None]]:
    """The records of `src` from where it stands (record number `after` + 1 on), as
    (number, cells, None) like `records` gives them, or, when `fields` is given, (first number,
    None, lines) for a block of plain lines (`plain_lines`) numbered from there."""
    number = after
    while block := src.peek():
        lines = plain_lines(block, fields) if fields else None
        if lines is not None:
            yield number + 1, None, lines
            number += len(lines)
            src.advance(len(block))
            continue
        end = src.offset + len(block)
        for cells in csv.reader(src.lines(), strict=STRICT):  # this block's records (and the rest of one that
            number += 1  # runs on past its end)
            yield number, cells, None
            if src.offset >= end:
                break
