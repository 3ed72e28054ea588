"""Strict bodies: what is refused, how each refusal is named, and that no value is echoed."""

from __future__ import annotations

import pytest

from otp_service.handlers.errors import FieldError, InvalidRequest
from otp_service.handlers.models import (
    RequestTokenBody,
    VerifyTokenBody,
    _field_error,
    format_e164,
    normalize_email,
    parse_body,
    parse_code,
    parse_phone_number,
)


def _refusal(call: object, *args: object) -> list[FieldError]:
    assert callable(call)
    with pytest.raises(InvalidRequest) as refused:
        call(*args)
    return list(refused.value.fields)


USER_ID_RULE = "must be 1-128 characters of A-Z a-z 0-9 . _ @ : + -"


def test_a_valid_body_parses_with_its_defaults() -> None:
    body = parse_body(RequestTokenBody, {"user_id": "a", "destination": "+14155550123"})
    assert (body.user_id, body.channel, body.locale) == ("a", "sms", None)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"code": "123456"}, "user_id", "is required"),
        ({"user_id": "a", "code": 123456}, "code", "must be a string"),
        ({"user_id": "a b", "code": "1"}, "user_id", USER_ID_RULE),
        ({"user_id": "", "code": "1"}, "user_id", USER_ID_RULE),
        ({"user_id": "a" * 129, "code": "1"}, "user_id", USER_ID_RULE),
        ({"user_id": "a", "code": "12a"}, "code", "must be a string of digits"),
        ({"user_id": "a", "code": "1", "extra": 1}, "extra", "is not a known field"),
    ],
)
def test_each_refusal_names_its_field_and_why(
    body: dict[str, object], field: str, message: str
) -> None:
    assert _refusal(parse_body, VerifyTokenBody, body) == [FieldError(field, message)]


def test_literal_and_length_refusals_have_their_own_words() -> None:
    channel = {"user_id": "a", "destination": "x", "channel": "fax"}
    assert _refusal(parse_body, RequestTokenBody, channel) == [
        FieldError("channel", 'must be "sms" or "email"')
    ]
    empty = {"user_id": "a", "destination": ""}
    assert _refusal(parse_body, RequestTokenBody, empty) == [
        FieldError("destination", "must not be empty")
    ]
    long = {"user_id": "a", "destination": "x" * 255}
    assert _refusal(parse_body, RequestTokenBody, long) == [
        FieldError("destination", "must be at most 254 characters")
    ]


@pytest.mark.parametrize("field", ["channel", "locale"])
def test_an_optional_field_sent_as_null_is_refused_like_any_non_string(field: str) -> None:
    """Optional means "leave it out"; `null` is not a channel or a locale."""
    body = {"user_id": "a", "destination": "+14155550123", field: None}
    [refusal] = _refusal(parse_body, RequestTokenBody, body)
    assert refusal.field == field


def test_a_bad_locale_says_what_a_locale_looks_like() -> None:
    body = {"user_id": "a", "destination": "+14155550123", "locale": "english please"}
    assert _refusal(parse_body, RequestTokenBody, body) == [
        FieldError("locale", "must be a BCP-47 language tag such as en or de-DE")
    ]


@pytest.mark.parametrize("name", ["+14155550123", "jane@example.com", "123456", "a.b", "é"])
def test_an_unknown_field_that_could_be_a_secret_is_not_named(name: str) -> None:
    body = {"user_id": "a", "code": "123456", name: 1}
    assert _refusal(parse_body, VerifyTokenBody, body) == [
        FieldError("body", "has a field that is not known")
    ]


def test_a_plain_unknown_field_is_named_up_to_64_characters() -> None:
    named = {"user_id": "a", "code": "1", "x" * 64: 1}
    assert _refusal(parse_body, VerifyTokenBody, named)[0].field == "x" * 64
    too_long = {"user_id": "a", "code": "1", "x" * 65: 1}
    assert _refusal(parse_body, VerifyTokenBody, too_long)[0].field == "body"


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        ("14155550123", "must be an E.164 phone number"),
        ("+1 415 555 0123", "must be an E.164 phone number"),
        ("+0123456789", "must be an E.164 phone number"),
        ("+123456", "must be an E.164 phone number"),
        ("+1234567890123456", "must be an E.164 phone number"),
        ("+14155550123 ", "must be an E.164 phone number"),
        ("+11234567890", "must be a valid phone number"),
        ("+99912345678", "must be a valid phone number"),
    ],
)
def test_a_phone_number_must_be_e164_and_valid(destination: str, message: str) -> None:
    assert _refusal(parse_phone_number, destination) == [FieldError("destination", message)]


def test_a_valid_number_comes_back_in_canonical_form() -> None:
    assert format_e164(parse_phone_number("+447911123456")) == "+447911123456"


def test_a_refusal_of_a_kind_without_its_own_words_is_invalid() -> None:
    assert _field_error(("user_id",), "bytes_type") == FieldError("user_id", "is invalid")


def test_an_email_address_is_normalised_or_refused() -> None:
    assert normalize_email("Jane.Doe@Example.COM") == "Jane.Doe@example.com"
    longest = "x" * 64 + "@" + ".".join(["a" * 63, "b" * 63, "c" * 57]) + ".com"
    assert len(longest) == 254 and normalize_email(longest) == longest
    assert _refusal(normalize_email, "x" + longest)
    for bad in ("jane", "jane@", "@example.com", "jane@@example.com"):
        assert _refusal(normalize_email, bad) == [
            FieldError("destination", "must be a valid email address")
        ]


def test_a_code_must_have_exactly_the_configured_length() -> None:
    assert parse_code("123456", 6) == "123456"
    assert _refusal(parse_code, "12345", 6) == [FieldError("code", "must be 6 digits")]
    assert _refusal(parse_code, "1234567", 6) == [FieldError("code", "must be 6 digits")]
