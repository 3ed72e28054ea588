"""Every SMS fits one GSM-7 segment at the longest brand and code the configuration allows."""

from __future__ import annotations

import math

import pytest

from otp_service.handlers.messages import TEMPLATES, render

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")
"""3GPP TS 23.038: the default alphabet and its extension table (two septets each)."""
LONGEST_BRAND = "W" * 40  # brandName's maximum length
LONGEST_CODE = "9" * 10  # codeLength's maximum
TTL_SECONDS = range(30, 601)  # codeTtlSeconds's range


def sms_segments(text: str) -> tuple[str, int]:
    """The encoding an SMS needs and how many segments it is sent as."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        septets = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
        return "GSM-7", 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(text.encode("utf-16-le")) // 2
    return "UCS-2", 1 if units <= 70 else math.ceil(units / 67)


def test_the_counter_knows_ucs2_and_gsm7() -> None:
    assert sms_segments("x" * 160) == ("GSM-7", 1)
    assert sms_segments("x" * 161) == ("GSM-7", 2)
    assert sms_segments("€" * 80) == ("GSM-7", 1)
    assert sms_segments("código" + "x" * 70) == ("UCS-2", 2)


@pytest.mark.parametrize("locale", sorted(TEMPLATES))
def test_every_locale_s_sms_is_one_gsm7_segment_at_the_longest_brand_and_code(
    locale: str,
) -> None:
    worst = max(
        (render("sms", locale, LONGEST_BRAND, LONGEST_CODE, ttl).body for ttl in TTL_SECONDS),
        key=len,
    )
    assert sms_segments(worst) == ("GSM-7", 1), (len(worst), worst)


@pytest.mark.parametrize("locale", sorted(TEMPLATES))
def test_every_locale_s_email_names_the_code_and_the_brand(locale: str) -> None:
    message = render("email", locale, LONGEST_BRAND, LONGEST_CODE, 300)
    assert LONGEST_BRAND in message.subject
    assert LONGEST_CODE in message.body and "{" not in message.body + message.subject
