"""Every SMS fits one GSM-7 segment at the longest brand and code the configuration allows,
with the autofill lines too (or the configuration is refused)."""

from __future__ import annotations

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from otp_service.components.options import InvalidArgumentError, OtpServiceArgs, resolve_options
from otp_service.handlers.messages import TEMPLATES, Autofill, render, sms_segments

LONGEST_BRAND = "W" * 40  # brandName's maximum length
LONGEST_CODE = "9" * 10  # codeLength's maximum
TTL_SECONDS = range(30, 601)  # codeTtlSeconds's range
APP_HASH = "FA+9qCX9VSu"  # the example in Google's SMS Retriever guide
BOTH = Autofill(web_otp_domain="example.com", android_app_hash=APP_HASH)


def test_the_counter_knows_ucs2_and_gsm7() -> None:
    assert sms_segments("x" * 160) == ("GSM-7", 160, 1)
    assert sms_segments("x" * 161) == ("GSM-7", 161, 2)
    assert sms_segments("€" * 80) == ("GSM-7", 160, 1)
    assert sms_segments("código" + "x" * 70) == ("UCS-2", 76, 2)


@pytest.mark.parametrize("locale", sorted(TEMPLATES))
def test_every_locale_s_sms_is_one_gsm7_segment_at_the_longest_brand_and_code(
    locale: str,
) -> None:
    worst = max(
        (render("sms", locale, LONGEST_BRAND, LONGEST_CODE, ttl).body for ttl in TTL_SECONDS),
        key=len,
    )
    assert sms_segments(worst)[::2] == ("GSM-7", 1), (len(worst), worst)


@pytest.mark.parametrize("locale", sorted(TEMPLATES))
def test_every_locale_s_email_names_the_code_and_the_brand(locale: str) -> None:
    message = render("email", locale, LONGEST_BRAND, LONGEST_CODE, 300)
    assert LONGEST_BRAND in message.subject
    assert LONGEST_CODE in message.body and "{" not in message.body + message.subject


def test_the_origin_bound_line_is_last_and_the_app_hash_just_before_it() -> None:
    plain = render("sms", "en", "Acme", "123456", 300).body
    lines = render("sms", "en", "Acme", "123456", 300, BOTH).body.split("\n")
    assert lines == [plain, APP_HASH, "@example.com #123456"]


def test_each_autofill_line_stands_alone() -> None:
    domain_only = render("sms", "de", "Acme", "123456", 300, Autofill(web_otp_domain="a.example"))
    assert domain_only.body.endswith(".\n@a.example #123456")
    hash_only = render("sms", "de", "Acme", "123456", 300, Autofill(android_app_hash=APP_HASH))
    assert hash_only.body.endswith(f".\n{APP_HASH}")


def test_email_has_no_autofill_lines() -> None:
    assert render("email", "fr", "Acme", "123456", 300, BOTH) == render(
        "email", "fr", "Acme", "123456", 300
    )


def test_both_autofill_lines_at_the_longest_brand_and_code_are_refused_naming_the_keys() -> None:
    with pytest.raises(InvalidArgumentError) as refused:
        resolve_options(
            {
                "brand_name": LONGEST_BRAND,
                "code_length": 10,
                "web_otp_domain": "example.com",
                "android_app_hash": APP_HASH,
            }
        )
    message = str(refused.value)
    assert message.startswith("webOtpDomain and androidAppHash make the 'de' SMS ")
    for key in ("brandName", "codeLength", "webOtpDomain", "androidAppHash"):
        assert key in message


_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(
    brand=st.integers(1, 40).flatmap(
        lambda n: st.text(alphabet="AZaz09 &'-.!éÄ", min_size=n, max_size=n)
    ),
    code_length=st.integers(6, 10),
    ttl=st.sampled_from([30, 59, 60, 100, 119, 300, 599, 600]),
    host=st.none() | st.lists(_LABEL, min_size=1, max_size=4).map(lambda ls: ".".join(ls) + ".io"),
    app_hash=st.none() | st.just(APP_HASH),
)
def test_with_autofill_every_accepted_configuration_sends_one_gsm7_segment_in_every_locale(
    brand: str, code_length: int, ttl: int, host: str | None, app_hash: str | None
) -> None:
    """The segments test with the autofill lines on: what fits is accepted, what does not is
    refused at config time naming the keys."""
    args: OtpServiceArgs = {"brand_name": brand, "code_length": code_length}
    args["code_ttl_seconds"] = ttl
    if host is not None:
        args["web_otp_domain"] = host
    if app_hash is not None:
        args["android_app_hash"] = app_hash
    try:
        options = resolve_options(args)
    except InvalidArgumentError as refused:
        assert host is not None or app_hash is not None
        assert "over one GSM-7 segment" in str(refused)
        event("refused")
        return
    event("accepted")
    for locale in TEMPLATES:
        sms = render(
            "sms", locale, brand, "9" * code_length, ttl, options.infrastructure.autofill
        ).body
        assert sms_segments(sms)[::2] == ("GSM-7", 1), sms
        if host is not None:
            assert sms.endswith(f"\n@{host} #{'9' * code_length}")
