"""Text from a source or the warehouse, made safe for a spreadsheet cell: every value the workbook
(report/workbook.py) writes goes through `cell`.

- A value beginning with = + - @ (or their full-width forms ＝ ＋ － ＠), a tab or a CR gets a leading
  apostrophe: a spreadsheet program would otherwise run it as a formula (CSV/formula injection, e.g.
  an enterprise "named" =HYPERLINK(...) or +cmd|' /C calc'!A0), and openpyxl itself writes a string
  starting with = as a formula.
- A character XML 1.0 cannot hold (C0 controls other than tab, LF and CR; lone surrogates;
  U+FFFE/U+FFFF) is written visibly as its escape (\\x07, \\x1b): openpyxl raises
  IllegalCharacterError on them, so one such cell from a source would stop the whole export.
- Text longer than a cell may hold (32,767 characters) is cut there, with … as its last character.

The project writes no CSV export: the one CSV it writes is the http connector's landing copy of
the records as the source sent them, which only the loader reads (neutralising it would change
the data); any CSV export added must pass its values through `cell` too.
"""

from __future__ import annotations

import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
MAX_CELL = 32767  # characters, Excel's limit
ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def cell(value: object) -> object:
    """A value as a spreadsheet may hold it without running it or refusing it; non-text as it is."""
    if not isinstance(value, str):
        return value
    text = ILLEGAL.sub(_escape, value)
    if text.startswith(FORMULA_START):
        text = "'" + text
    if len(text) > MAX_CELL:
        text = text[: MAX_CELL - 1] + "…"
    return text
