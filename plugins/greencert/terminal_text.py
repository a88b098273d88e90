"""Text from a source or the warehouse, made safe to show: every listing the CLI prints (file names,
values, reasons) and the report's page pass what they show through `visible`.

A source controls its file names and cell values; printed as sent, an escape sequence in one (ESC,
CSI colours, OSC 8 links, BEL, backspace, a bare CR that rewrites the line) acts on the terminal, a
newline forges a line of the listing, and a bidi override (U+202A–202E, U+2066–2069) reorders what
is read. `visible` writes each such character as its escape (\\x1b, \\n, \\u202e): control characters
(Unicode Cc: C0, DEL, C1), format characters (Cf: bidi controls, zero-width characters, BOM), line
and paragraph separators (Zl, Zp) and lone surrogates (Cs). Everything else — CJK text, the
ideographic space — stays as sent.
"""

from __future__ import annotations

import unicodedata

UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def is_unsafe(ch: str) -> bool:
    return unicodedata.category(ch) in UNSAFE_CATEGORIES


def visible(value: object) -> str:
    """`value` as text in which no character acts on a terminal or reorders the line: each unsafe one
    is written as its escape. None is the empty string."""
    text = "" if value is None else str(value)
    if text.isascii() and text.isprintable():  # the common case: nothing to look at
        return text
    return "".join(_escape(ch) if is_unsafe(ch) else ch for ch in text)
