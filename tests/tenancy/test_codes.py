"""Unified social credit codes (GB 32100-2015) and mainland mobile numbers.

These run without an app context, so messages come out untranslated (English). They check
what a message must name (a length, a position, a character), not its exact wording.
"""

import re

import pytest

from lms.core.codes import (
    CodeError,
    mask_email,
    mask_mobile,
    normalize_mobile,
    normalize_uscc,
    uscc_check_char,
)

VALID = "91350100M000100Y43"


def _message(raw: str) -> str:
    with pytest.raises(CodeError) as info:
        normalize_uscc(raw)
    return str(info.value)


def _names(message: str, token: str) -> bool:
    """Whether `token` stands on its own in the message (not inside a longer number)."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(token)}(?![0-9A-Za-z])", message) is not None


def test_a_real_valid_credit_code_passes_unchanged():
    assert normalize_uscc(VALID) == VALID


def test_check_character_is_computed_with_the_gb32100_weights():
    assert uscc_check_char(VALID[:17]) == VALID[17]


@pytest.mark.parametrize("raw", ["91350100m000100y43", "  91350100M000100Y43\n"])
def test_lower_case_and_surrounding_spaces_are_normalised(raw):
    assert normalize_uscc(raw) == VALID


@pytest.mark.parametrize("raw, n", [("", 0), ("9135010", 7), (VALID + "1", 19)])
def test_wrong_length_is_refused_naming_the_length(raw, n):
    message = _message(raw)
    assert _names(message, "18")
    assert _names(message, str(n))


@pytest.mark.parametrize("letter", ["I", "O", "S", "V", "Z"])
def test_a_forbidden_letter_is_refused_naming_its_position(letter):
    raw = VALID[:9] + letter + VALID[10:]  # the 10th character
    message = _message(raw)
    assert _names(message, "10")
    assert f"“{letter}”" in message


def test_a_forbidden_letter_typed_in_lower_case_is_named_in_upper_case():
    message = _message(VALID[:4] + "o" + VALID[5:])
    assert _names(message, "5") and "“O”" in message


def test_a_non_digit_administrative_division_code_is_refused():
    message = _message("9135A100M000100Y43")
    assert _names(message, "3") and _names(message, "8")


def test_a_wrong_check_character_is_refused_naming_the_expected_one():
    message = _message(VALID[:17] + "4")
    assert _names(message, "3")  # expected
    assert _names(message, "4")  # typed
    other = _message("91350100MA0001000" + "A")  # the check character there is "U"
    assert uscc_check_char("91350100MA0001000") == "U"
    assert _names(other, "U") and _names(other, "A")


def test_each_problem_has_its_own_message():
    messages = {
        _message("9135010"),
        _message(VALID[:9] + "I" + VALID[10:]),
        _message("9135A100M000100Y43"),
        _message(VALID[:17] + "4"),
    }
    assert len(messages) == 4


def test_every_single_character_typo_in_a_valid_code_is_caught():
    for pos in range(17):
        for replacement in "0123456789ABCDEFGHJKLMNPQRTUWXY":
            if replacement == VALID[pos]:
                continue
            typo = VALID[:pos] + replacement + VALID[pos + 1 :]
            if not typo[2:8].isdigit():
                continue
            with pytest.raises(CodeError):
                normalize_uscc(typo)


def test_code_error_is_a_value_error():
    assert issubclass(CodeError, ValueError)


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "+8613812345678",
        "+86 138 1234 5678",
        "138-1234-5678",
        " +86-138-1234-5678 ",
        "138\t1234 5678",
    ],
)
def test_mobile_numbers_are_normalised_to_eleven_digits(raw):
    assert normalize_mobile(raw) == "13812345678"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits
        "12812345678",  # second digit 2
        "23812345678",  # does not start with 1
        "+8512812345678",  # another country
        "138ABCD5678",
        "(138)12345678",
    ],
)
def test_bad_mobile_numbers_are_refused(raw):
    with pytest.raises(CodeError) as info:
        normalize_mobile(raw)
    assert _names(str(info.value), "11")


def test_masking_shows_the_first_three_and_last_four_digits():
    assert mask_mobile("13812345678") == "138****5678"


def test_masking_never_leaks_an_odd_value_and_tolerates_none():
    assert mask_mobile(None) == ""
    assert mask_mobile("12345") == "*****"
    assert mask_email("zhang.wei@example.com") == "z***@example.com"
