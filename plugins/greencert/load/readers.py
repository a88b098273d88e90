"""Read a landed file as (row number, cells) records, streaming: CSV in UTF-8/GB18030, or XLSX.

Row numbers are the ones a person sees when opening the file (header row included), so a
quarantine entry or an error can send them straight to the offending line.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

TOTAL_MARKERS = ("合计", "总计", "小计")
HEADER_SEARCH_ROWS = 10  # XLSX lists carry one or two title rows above the header


class UnreadableFile(Exception):
    pass


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
    raise UnreadableFile(f"{name or path.name}: neither UTF-8 nor GB18030 text ({exc})")


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
        yield from enumerate(csv.reader(fh), start=1)


def _xlsx(path: Path, name: str) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    fh = path.open("rb")  # a handle, so a workbook sent under a .csv name still opens
    try:
        # read_only streams the sheet; a full load costs ~50x the file size in memory
        wb = load_workbook(fh, read_only=True, data_only=True)
    except Exception as exc:  # any failure to open is the same fact: not a usable workbook
        fh.close()
        raise UnreadableFile(f"{name}: not a readable XLSX workbook ({type(exc).__name__}: {exc})") from None
    try:
        sheet = wb.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_cell(v) for v in values]
    finally:
        wb.close()
        fh.close()


def records(path: Path, name: str) -> Iterator[tuple[int, list[str]]]:
    """Every row of the file with its row number; XLSX by content, not by the name it came with."""
    with path.open("rb") as fh:
        is_zip = fh.read(4) == b"PK\x03\x04"
    return _xlsx(path, name) if is_zip else _csv(path, name)


def is_blank_or_total(cells: list[str]) -> bool:
    """Empty rows and the 合计 (total) rows some lists put at the bottom are not data."""
    first = next((c.strip() for c in cells if c and c.strip()), "")
    return not first or first.replace(" ", "").startswith(TOTAL_MARKERS)
