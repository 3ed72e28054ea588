"""Which phone numbers SMS may go to: none that pays its holder or costs more than an SMS."""

from __future__ import annotations

import pytest

from otp_service.handlers.models import is_premium_rate, parse_phone_number

REFUSED = {
    "US premium rate (900)": "+19002345678",
    "UK premium rate (087)": "+448712345678",
    "FR premium rate (089)": "+33891234567",
    "UK personal number (070)": "+447012345678",
    "UK universal access (055)": "+445512345678",
    "shared cost (+808)": "+80812345678",
    "satellite (+881)": "+881612345678",
    "international network (+882)": "+8823421234",
    "international network VoIP (+883)": "+883510012345",
    "international premium rate (+979)": "+979123456789",
    "Inmarsat (+870)": "+870301234567",
    "UK pager (076)": "+447640123456",
    "DE voicemail": "+49177991234567",
}
ACCEPTED = {
    "US": "+14155550123",
    "UK mobile": "+447911123456",
    "FI mobile": "+3585012345",
    "Tokelau": "+6907290",
    "US toll free": "+18005550123",
}


@pytest.mark.parametrize("number", REFUSED.values(), ids=REFUSED.keys())
def test_toll_fraud_targets_are_refused(number: str) -> None:
    assert is_premium_rate(parse_phone_number(number))


@pytest.mark.parametrize("number", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_ordinary_numbers_are_accepted(number: str) -> None:
    assert not is_premium_rate(parse_phone_number(number))
