"""Retries: only where the contract makes a repeat harmless, with the same Idempotency-Key."""

from __future__ import annotations

import json
import socket

import pytest

from otp_service.client import (
    InvalidCode,
    NoAuth,
    OtpClient,
    OtpError,
    RateLimited,
    ServiceUnavailable,
)

from .servers import scripted_server

PENDING = {
    "status": "pending",
    "channel": "sms",
    "destination": "+1415******23",
    "expires_in": 300,
    "resend_after": 30,
}
UNAVAILABLE = (
    503,
    {"Retry-After": "2"},
    {"error": {"code": "service_unavailable", "message": "busy"}},
)
THROTTLED = (
    429,
    {"Retry-After": "1"},
    {"error": {"code": "throttled", "message": "Too Many Requests", "retry_after": 1}},
)


def _client(url: str, waits: list[float]) -> OtpClient:
    return OtpClient(url, NoAuth(), sleep=waits.append)


def test_request_token_repeats_a_503_with_the_same_generated_key() -> None:
    waits: list[float] = []
    with scripted_server([UNAVAILABLE, (202, {}, PENDING)]) as (url, received):
        pending = _client(url, waits).request_token("alice", "+14155550123")
    keys = [headers["Idempotency-Key"] for _, _, headers, _ in received.requests]
    assert len(keys) == 2
    assert keys[0] == keys[1] == pending.idempotency_key
    assert 1 <= len(pending.idempotency_key) <= 64 and pending.idempotency_key.isascii()
    assert waits == [2.0]


def test_each_request_token_call_gets_its_own_key() -> None:
    with scripted_server([(202, {}, PENDING), (202, {}, PENDING)]) as (url, received):
        client = _client(url, [])
        client.request_token("alice", "+14155550123")
        client.request_token("alice", "+14155550123")
    first, second = (headers["Idempotency-Key"] for _, _, headers, _ in received.requests)
    assert first != second


def test_a_given_key_is_sent_as_given() -> None:
    with scripted_server([(202, {}, PENDING)]) as (url, received):
        _client(url, []).request_token("alice", "+14155550123", idempotency_key="resend-1")
    assert received.requests[0][2]["Idempotency-Key"] == "resend-1"


def test_verify_is_not_repeated_after_a_503() -> None:
    """A verify counts its attempt before it can fail, so a repeat would spend another."""
    with (
        scripted_server([UNAVAILABLE]) as (url, received),
        pytest.raises(ServiceUnavailable) as raised,
    ):
        _client(url, []).verify_token("alice", "123456")
    assert raised.value.retry_after == 2
    assert len(received.requests) == 1


def test_verify_is_repeated_after_api_gateway_throttled_it() -> None:
    waits: list[float] = []
    with scripted_server([THROTTLED, (200, {}, {"status": "approved", "verified": True})]) as (
        url,
        received,
    ):
        assert _client(url, waits).verify_token("alice", "123456").verified
    assert len(received.requests) == 2
    assert waits == [1.0]


def test_a_rate_limited_request_is_not_repeated() -> None:
    limited = (
        429,
        {"Retry-After": "25"},
        {"error": {"code": "rate_limited", "message": "wait", "retry_after": 25}},
    )
    with scripted_server([limited]) as (url, received), pytest.raises(RateLimited) as raised:
        _client(url, []).request_token("alice", "+14155550123")
    assert raised.value.retry_after == 25
    assert len(received.requests) == 1


def test_retries_stop_after_max_attempts() -> None:
    waits: list[float] = []
    with scripted_server([UNAVAILABLE] * 3) as (url, received), pytest.raises(ServiceUnavailable):
        _client(url, waits).cancel_token("alice")
    assert len(received.requests) == 3
    assert len(waits) == 2


def test_a_refused_connection_is_retried_then_reported() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    waits: list[float] = []
    with pytest.raises(OtpError, match="cannot connect"):
        _client(f"http://127.0.0.1:{port}", waits).verify_token("alice", "123456")
    assert len(waits) == 2


def test_an_error_carries_the_request_id_and_the_top_level_verified_flag_is_not_needed() -> None:
    wrong = (
        400,
        {"x-amzn-RequestId": "req-1"},
        {"error": {"code": "invalid_code", "message": "no"}, "verified": False},
    )
    with scripted_server([wrong]) as (url, received), pytest.raises(InvalidCode) as raised:
        _client(url, []).verify_token("alice", "123456")
    assert raised.value.request_id == "req-1"
    assert raised.value.status == 400
    assert json.loads(received.requests[0][3]) == {"user_id": "alice", "code": "123456"}


def test_a_non_json_error_is_an_otp_error_with_its_status() -> None:
    with scripted_server([(500, {}, "oops")]) as (url, _), pytest.raises(OtpError) as raised:
        _client(url, []).cancel_token("alice")
    assert raised.value.status == 500
