import pytest

from standins.uscc import (
    is_valid_org_code,
    is_valid_uscc,
    make_uscc,
    org_code_check_char,
    uscc_check_char,
    uscc_region,
)

# Worked by hand: 91350100M000100Y4 → Σ value·weight = 1·9+3·1+9·3+27·5+19·0+26·1+16·0+17·0+20·21
# +29·0+25·0+13·0+8·1+24·0+10·0+30·30+28·4 = 1640; 1640 mod 31 = 28; 31 − 28 = 3 → "3".
HAND_WORKED = "91350100M000100Y43"


def test_hand_worked_example() -> None:
    assert uscc_check_char(HAND_WORKED[:17]) == "3"
    assert is_valid_uscc(HAND_WORKED)
    assert uscc_region(HAND_WORKED) == "350100"


@pytest.mark.parametrize("region, serial", [("320583", 4711), ("320571", 1), ("320500", 99999)])
def test_made_codes_are_valid_and_carry_their_region(region: str, serial: int) -> None:
    code = make_uscc(region, serial)
    assert len(code) == 18 and is_valid_uscc(code) and uscc_region(code) == region
    assert is_valid_org_code(code[8:17])  # characters 9–17 are the organisation code


def test_a_letter_check_character() -> None:
    code = next(c for c in (make_uscc("320506", i) for i in range(1, 500)) if c[-1].isalpha())
    assert is_valid_uscc(code)


@pytest.mark.parametrize(
    "bad",
    [
        HAND_WORKED[:-1] + "4",  # wrong check character
        HAND_WORKED[:-1],  # 17 characters
        HAND_WORKED + "0",  # 19 characters
        "91350100I000100Y43",  # I is not in the charset (nor O, S, V, Z)
        "91350100m000100y43",  # lower case
        "",
    ],
)
def test_invalid_uscc(bad: str) -> None:
    assert not is_valid_uscc(bad)
    assert uscc_region(bad) is None


def test_organisation_code_both_spellings() -> None:
    # 76003808: Σ = 7·3+6·7+0·9+0·10+3·5+8·8+0·4+8·2 = 158; 158 mod 11 = 4; 11 − 4 = 7
    assert org_code_check_char("76003808") == "7"
    assert is_valid_org_code("76003808-7") and is_valid_org_code("760038087")
    assert not is_valid_org_code("76003808-6")
    assert not is_valid_org_code("000000000")  # the placeholder some sources send
