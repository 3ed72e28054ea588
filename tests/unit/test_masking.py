"""Masking: a masked destination is recognisable to its owner and never contactable."""

from __future__ import annotations

import re

import phonenumbers
import pytest

from otp_service.handlers.masking import mask_destination

MIN_HIDDEN_DIGITS = 5
SHORTEST_NUMBERS = {
    "NU": "+6837012",  # Niue: 7 digits, the shortest valid numbers anywhere
    "TK": "+6903101",  # Tokelau
    "SB": "+67740123",  # Solomon Islands: 8 digits
    "AD": "+376712345",  # Andorra: 9 digits
    "SE": "+46812345",  # Stockholm landline: 8 digits
    "DE": "+4930123456",  # Berlin landline: 10 digits
    "GB": "+447911123456",
    "NG": "+2342033123456",  # 13 digits
}


def _shown_digits(masked: str) -> tuple[str, str]:
    match = re.fullmatch(r"\+([0-9]*)\*+([0-9]*)", masked)
    assert match, f"{masked!r} is not a masked number"
    return match[1], match[2]


def test_a_us_number_is_masked_as_the_contract_shows() -> None:
    assert mask_destination("sms", "+14155550123") == "+1415******23"


@pytest.mark.parametrize("number", SHORTEST_NUMBERS.values(), ids=SHORTEST_NUMBERS.keys())
def test_a_short_number_keeps_at_least_five_digits_hidden(number: str) -> None:
    digits = number[1:]
    prefix, suffix = _shown_digits(mask_destination("sms", number))
    assert digits.startswith(prefix) and digits.endswith(suffix)
    assert len(digits) - len(prefix) - len(suffix) >= MIN_HIDDEN_DIGITS


def test_no_valid_number_of_any_region_is_masked_to_fewer_than_five_hidden_digits() -> None:
    """Every region's example numbers of every type, as the phone-number metadata knows them."""
    checked = 0
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in phonenumbers.PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            number = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            prefix, suffix = _shown_digits(mask_destination("sms", number))
            assert len(number) - 1 - len(prefix) - len(suffix) >= MIN_HIDDEN_DIGITS, number
            checked += 1
    assert checked > 1000


def test_the_mask_has_one_width_whatever_the_number_s_length() -> None:
    widths = {mask_destination("sms", n).count("*") for n in SHORTEST_NUMBERS.values()}
    assert widths == {6}


def test_long_numbers_show_their_calling_code_and_last_two_digits() -> None:
    assert mask_destination("sms", "+447911123456") == "+4479******56"
    assert mask_destination("sms", "+4930123456") == "+4930******6"
    assert mask_destination("sms", "+376712345") == "+3767******"
    assert mask_destination("sms", "+6837012") == "+68******"


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("jane.doe@example.com", "j***@example.com"),
        ("jane@example.com", "j***@example.com"),
        ("joe@example.com", "***@example.com"),
        ("jo@example.com", "***@example.com"),
        ("j@example.com", "***@example.com"),
        ('"a@b"@example.com', '"***@example.com'),
    ],
)
def test_an_email_shows_its_first_character_only_when_three_more_stay_hidden(
    address: str, masked: str
) -> None:
    assert mask_destination("email", address) == masked
