"""The loader's block reader gives exactly the records the reference reader gives (no database).

`readers.records` (csv.reader over the decoded file) is the reference. The loader reads CSV
through `CsvSource` + `csv_records`, sending blocks of plain lines as they are; expanding those
lines by splitting on commas must give back the very same records, numbers included, whatever the
encoding, line breaks, quoting or block size; and where quoting is malformed (a quoted cell that
never closes, text after a closing quote: both readers are strict), both stop at the same record.
"""

from __future__ import annotations

import csv
import itertools
import random
import sys
from pathlib import Path

import pytest

from greencert.load import readers
from greencert.load.readers import CsvSource, csv_records, detect_encoding, is_blank_or_total, plain_lines, records

PIECES = [
    "a",
    "b7",
    "X-1",
    " ",
    "\u3000",
    "\t",
    "合计",
    "合 计",
    "小计",
    "总计x",
    "小米",
    "中文",
    "",
    ",",
    '"',
    '""',
    "\n",
    "\r",
    "\r\n",
]
CELLS = [
    "",
    "",
    "a",
    "2025-06-30",
    "苏州",
    " ",
    "\u3000",
    "合计",
    " 合计",
    "小计：3",
    "总部",
    "a b",
    '"q"',
    '"x,y"',
    '"two\nlines"',
    '"cr\r\nlf"',
    'in"side',
]


def random_csv(rng: random.Random, fields: int) -> str:
    """Mostly records of `fields` cells (some quoted, ragged, blank, 合计), with some noise."""
    out = []
    for _ in range(rng.randint(0, 60)):
        if rng.random() < 0.1:
            out.append("".join(rng.choice(PIECES) for _ in range(rng.randint(0, 8))))
            continue
        n = fields if rng.random() < 0.8 else rng.randint(1, fields + 2)
        cells = [rng.choice(CELLS) if rng.random() < 0.3 else rng.choice(["v", "w1", "名称", "9"]) for _ in range(n)]
        out.append(",".join(cells) + rng.choice(["\n", "\n", "\n", "\r\n", "\r"]))
    if out and rng.random() < 0.5:
        out[-1] = out[-1].rstrip("\r\n")
    return "".join(out)


def loader_view(path: Path, fields: int, head_rows: int) -> list[tuple[int, list[str]] | str]:
    """What the loader reads: a head through csv.reader, then csv_records; plain lines split. A
    malformed record (strict quoting) ends the list with "csv.Error"."""
    encoding = "gb18030" if detect_encoding(path) == "gb18030" else "utf-8"
    got: list[tuple[int, list[str]] | str] = []
    with CsvSource(path, encoding) as src:
        try:
            for head in enumerate(itertools.islice(csv.reader(src.lines(), strict=True), head_rows), start=1):
                got.append(head)
            for number, cells, lines in csv_records(src, fields, len(got)):
                if lines is None:
                    got.append((number, cells))
                else:
                    for i, line in enumerate(lines):
                        split = line.decode("utf-8").split(",")
                        assert len(split) == fields and not is_blank_or_total(split)
                        got.append((number + i, split))
        except csv.Error:
            got.append("csv.Error")
    return got


def reference_view(path: Path) -> list[tuple[int, list[str]] | str]:
    got: list[tuple[int, list[str]] | str] = []
    try:
        got += records(path, path.name)
    except csv.Error:
        got.append("csv.Error")
    return got


@pytest.mark.parametrize("seed", range(300))
def test_block_reader_gives_the_reference_records(tmp_path: Path, monkeypatch, seed: int) -> None:
    rng = random.Random(seed)
    fields = rng.randint(2, 4)
    text = random_csv(rng, fields)
    encoding = rng.choice(["utf-8", "utf-8-sig", "gb18030"])
    path = tmp_path / "f.csv"
    path.write_bytes(text.encode(encoding))
    monkeypatch.setattr(readers, "BLOCK_BYTES", rng.choice([1, 2, 3, 7, 16, 64, 1 << 20]))
    assert loader_view(path, fields, rng.randint(0, 10)) == reference_view(path)


def test_a_plain_block_goes_through_whole() -> None:
    block = "A1,有效,2024-01-10\nA2,,x y\r\nA3,过期,\n".encode()
    assert plain_lines(block, 3) == ["A1,有效,2024-01-10".encode(), b"A2,,x y", "A3,过期,".encode()]
    for not_plain in [
        'A1,"q",x\n',
        "A1,b\n",
        "A1,b,c,d\n",
        "\n",
        ",b,c\n",
        " A,b,c\n",
        "\u3000A,b,c\n",
        "合计,3,\n",
        "A,b,c\rB,c,d\n",
        "A,b,c",
    ]:
        assert plain_lines(("A0,b,c\n" + not_plain).encode(), 3) is None, not_plain


def test_space_leads_cover_every_character_strip_removes() -> None:
    spaces = [chr(i) for i in range(sys.maxunicode + 1) if chr(i).isspace()]
    assert max(spaces) <= "\u3000" and {c.encode()[0] for c in spaces} < readers.SPACE_LEADS
