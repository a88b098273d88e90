"""统一社会信用代码 (GB 32100-2015) and 组织机构代码 (GB 11714-1997) check digits.

A USCC is 18 characters: registration authority, organisation kind, 6-digit registering region
(characters 3–8), the 9-character organisation code (characters 9–17) and a check character.
The product's definition of a valid code is SQL: plugins/greencert/warehouse/functions.sql
(util.is_valid_uscc, util.is_valid_org_code), which the row rules and staging use. This is the
stand-ins' own: the sample data's USCCs are made here (make_uscc), and the tests check the SQL
against these checks, written independently.
"""

from __future__ import annotations

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def org_code_check_char(first8: str) -> str:
    total = sum(_ORG_BODY.index(c) * w for c, w in zip(first8, ORG_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def is_valid_org_code(code: str) -> bool:
    """`76003808-7` or `760038087`: 8 digits/capital letters and a check digit (0-9 or X)."""
    code = code.replace("-", "") if len(code) == 10 and code[8] == "-" else code
    if len(code) != 9 or any(c not in _ORG_BODY for c in code[:8]) or code == "000000000":
        return False
    return org_code_check_char(code[:8]) == code[8]


def is_valid_uscc(code: str) -> bool:
    if len(code) != 18 or any(c not in USCC_CHARSET for c in code):
        return False
    return uscc_check_char(code[:17]) == code[17]


def uscc_region(code: str) -> str | None:
    """The registering region (characters 3–8) of a valid USCC."""
    return code[2:8] if is_valid_uscc(code) else None


def make_org_code(serial: int) -> str:
    """A valid organisation code from a serial number (deterministic, for sample data)."""
    body = f"{serial % 10**8:08d}"
    return body + org_code_check_char(body)


def make_uscc(region_code: str, serial: int, *, authority: str = "9", kind: str = "1") -> str:
    """A valid USCC registered in `region_code` whose characters 9–17 are a valid organisation code
    (an organisation check character X is fine: X is in the USCC charset)."""
    first17 = f"{authority}{kind}{region_code}{make_org_code(serial)}"
    return first17 + uscc_check_char(first17)
