"""The handler shell: each domain refusal becomes the contract's answer, and nothing else leaks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from otp_service.handlers.api import serve
from otp_service.handlers.errors import (
    DeliveryFailed,
    DependencyUnavailable,
    DestinationNotAllowed,
    FieldError,
    IdempotencyKeyReused,
    InvalidCode,
    InvalidRequest,
    OtpError,
    PayloadTooLarge,
    RateLimited,
    TooManyAttempts,
)
from otp_service.handlers.service import Answer


def _answer(error: Exception) -> tuple[int, dict[str, Any], dict[str, str]]:
    def run() -> Answer:
        raise error

    result = serve({}, run)
    return result["statusCode"], json.loads(result["body"]), result["headers"]


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (InvalidRequest(FieldError("code", "must be 6 digits")), 400, "invalid_request"),
        (PayloadTooLarge(), 413, "payload_too_large"),
        (DestinationNotAllowed(premium_rate=False), 403, "destination_not_allowed"),
        (DestinationNotAllowed(premium_rate=True), 403, "destination_not_allowed"),
        (RateLimited(12), 429, "rate_limited"),
        (IdempotencyKeyReused(), 422, "idempotency_key_reused"),
        (DeliveryFailed(), 502, "delivery_failed"),
        (InvalidCode(), 400, "invalid_code"),
        (TooManyAttempts(7), 429, "too_many_attempts"),
        (DependencyUnavailable(), 503, "service_unavailable"),
    ],
)
def test_each_domain_error_has_its_contract_status_and_code(
    error: OtpError, status: int, code: str
) -> None:
    answered_status, body, headers = _answer(error)
    assert (answered_status, body["error"]["code"]) == (status, code)
    assert body["error"]["message"]
    assert headers["Content-Type"] == "application/json"


def test_an_invalid_request_names_its_fields() -> None:
    _, body, _ = _answer(InvalidRequest(FieldError("code", "must be 6 digits")))
    assert body["error"]["fields"] == [{"field": "code", "message": "must be 6 digits"}]


@pytest.mark.parametrize("error", [RateLimited(12), TooManyAttempts(12)])
def test_retry_after_is_in_the_body_and_the_header_alike(error: OtpError) -> None:
    _, body, headers = _answer(error)
    assert body["error"]["retry_after"] == 12
    assert headers["Retry-After"] == "12"


@pytest.mark.parametrize("seconds", [0, -5])
def test_retry_after_is_never_below_one_second(seconds: int) -> None:
    _, body, headers = _answer(RateLimited(seconds))
    assert (body["error"]["retry_after"], headers["Retry-After"]) == (1, "1")


def test_code_answers_carry_verified_false_beside_the_error() -> None:
    assert _answer(InvalidCode())[1]["verified"] is False
    assert _answer(TooManyAttempts(3))[1]["verified"] is False


def test_a_throttled_dependency_is_503_with_retry_after() -> None:
    throttled = ClientError({"Error": {"Code": "ThrottlingException"}}, "UpdateItem")
    status, body, headers = _answer(throttled)
    assert (status, body["error"]["code"], headers["Retry-After"]) == (
        503,
        "service_unavailable",
        "2",
    )


def test_an_unexpected_failure_is_a_bare_500() -> None:
    status, body, _ = _answer(ValueError("+14155550123 123456"))
    assert (status, body) == (
        500,
        {"error": {"code": "internal_error", "message": "An unexpected error occurred."}},
    )
