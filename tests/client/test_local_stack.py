"""The client against otp-local over HTTP: the whole flow and each error as its exception."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from otp_service.client import (
    ApiKeyAuth,
    Forbidden,
    InvalidCode,
    InvalidRequest,
    NotFound,
    OtpClient,
    RateLimited,
    TooManyAttempts,
)
from otp_service.local.process import LocalStackProcess

API_KEY = "client-test-key"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
_numbers = itertools.count(1)


def phone_number() -> str:
    """A US number no other test of this module sends to (send limits are per number)."""
    return f"+1415555{next(_numbers):04d}"


def user_id(prefix: str) -> str:
    return f"{prefix}-{next(_numbers)}"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStackProcess]:
    process = LocalStackProcess(
        "--stack", "dev", "--api-key", API_KEY, "-c", "maxVerifyAttempts=2", cwd=PROJECT_ROOT
    )
    try:
        yield process
    finally:
        assert process.stop() == 0


@pytest.fixture
def client(stack: LocalStackProcess) -> OtpClient:
    return OtpClient(stack.url, ApiKeyAuth(API_KEY), sleep=lambda _: None)


def _code_sent_to(stack: LocalStackProcess, destination: str) -> str:
    messages = stack.call("GET", "/_local/outbox").body["messages"]
    body = [m for m in messages if m["destination"] == destination][-1]["body"]
    match = re.search(r"\b[0-9]{6,10}\b", body)
    assert match, body
    return match[0]


def test_a_code_requested_with_the_client_verifies_once(
    stack: LocalStackProcess, client: OtpClient
) -> None:
    user, phone = user_id("client"), phone_number()
    pending = client.request_token(user, phone, locale="de")
    assert (pending.channel, pending.destination) == ("sms", phone[:5] + "******" + phone[-2:])
    assert pending.expires_in == 300 and pending.resend_after == 30
    code = _code_sent_to(stack, phone)
    assert client.verify_token(user, code).verified is True
    with pytest.raises(InvalidCode):
        client.verify_token(user, code)


def test_a_wrong_api_key_is_forbidden(stack: LocalStackProcess) -> None:
    with pytest.raises(Forbidden):
        OtpClient(stack.url, ApiKeyAuth("wrong")).cancel_token("anyone")


def test_a_bad_field_is_named_with_what_is_allowed(client: OtpClient) -> None:
    with pytest.raises(InvalidRequest) as raised:
        client.request_token("not allowed!", phone_number())
    assert [problem.field for problem in raised.value.fields] == ["user_id"]


def test_a_second_request_within_the_cooldown_is_rate_limited(client: OtpClient) -> None:
    user = user_id("client")
    client.request_token(user, phone_number())
    with pytest.raises(RateLimited) as raised:
        client.request_token(user, phone_number())
    assert raised.value.retry_after is not None and 0 < raised.value.retry_after <= 30


def test_used_up_attempts_raise_too_many_attempts_with_retry_after(
    client: OtpClient,
) -> None:
    user = user_id("client")
    client.request_token(user, phone_number())
    with pytest.raises(InvalidCode):
        client.verify_token(user, "000000")
    with pytest.raises(TooManyAttempts) as raised:
        client.verify_token(user, "000000")
    assert raised.value.retry_after is not None and raised.value.retry_after > 0


def test_a_canceled_code_no_longer_verifies(stack: LocalStackProcess, client: OtpClient) -> None:
    user, phone = user_id("client"), phone_number()
    client.request_token(user, phone)
    assert client.cancel_token(user).status == "canceled"
    with pytest.raises(InvalidCode):
        client.verify_token(user, _code_sent_to(stack, phone))


def test_the_same_key_twice_sends_one_message(stack: LocalStackProcess, client: OtpClient) -> None:
    user, phone = user_id("client"), phone_number()
    first = client.request_token(user, phone)
    again = client.request_token(user, phone, idempotency_key=first.idempotency_key)
    assert again.destination == first.destination
    messages = stack.call("GET", "/_local/outbox").body["messages"]
    assert len([m for m in messages if m["destination"] == phone]) == 1


def test_a_verification_s_state_is_read_by_its_id(
    stack: LocalStackProcess, client: OtpClient
) -> None:
    user, phone = user_id("client"), phone_number()
    pending = client.request_token(user, phone)
    assert pending.verification_id is not None
    state = client.get_verification(pending.verification_id)
    assert (state.status, state.user_id, state.destination) == (
        "pending",
        user,
        pending.destination,
    )
    client.verify_token(user, _code_sent_to(stack, phone))
    assert client.get_verification(pending.verification_id).status == "approved"


def test_an_unknown_verification_id_is_not_found(client: OtpClient) -> None:
    with pytest.raises(NotFound):
        client.get_verification("vf_" + "A" * 22)
