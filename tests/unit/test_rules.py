"""The business rules, each over in-memory collaborators: what they answer and what they refuse."""

from __future__ import annotations

import pytest

from otp_service.handlers.errors import (
    DeliveryFailed,
    DestinationNotAllowed,
    IdempotencyKeyReused,
    InvalidCode,
    InvalidRequest,
    RateLimited,
    TooManyAttempts,
)
from otp_service.handlers.settings import Policy
from tests.support.rules import Rules


def _wrong(code: str, offset: int = 1) -> str:
    return f"{(int(code) + offset) % 10 ** len(code):0{len(code)}d}"


def test_request_sends_a_code_of_the_policy_s_length_and_answers_masked(rules: Rules) -> None:
    answer = rules.request()
    assert answer.status == 202
    assert answer.body["destination"] == "+1415******23"
    assert rules.provider.sent[0][0] == "+14155550123"
    assert len(rules.last_code()) == 6


def test_request_refuses_a_country_that_is_not_allowed(rules: Rules) -> None:
    with pytest.raises(DestinationNotAllowed) as refused:
        rules.request(destination="+447911123456")
    assert refused.value.premium_rate is False
    assert rules.provider.sent == [] and rules.store.calls == []


def test_request_refuses_a_premium_rate_number(rules: Rules) -> None:
    with pytest.raises(DestinationNotAllowed) as refused:
        rules.request(destination="+19005550123")
    assert refused.value.premium_rate is True


def test_request_refuses_email_when_no_sender_is_configured(rules: Rules) -> None:
    rules.email_sender = None
    with pytest.raises(InvalidRequest) as refused:
        rules.request(channel="email", destination="jane@example.com")
    assert [f.field for f in refused.value.fields] == ["channel"]


def test_request_refuses_a_malformed_idempotency_key_before_any_write(rules: Rules) -> None:
    with pytest.raises(InvalidRequest) as refused:
        rules.request(idempotency_key="has space")
    assert [f.field for f in refused.value.fields] == ["Idempotency-Key"]
    assert rules.store.calls == []


def test_request_within_the_cooldown_is_rate_limited_and_sends_nothing(rules: Rules) -> None:
    rules.request()
    rules.now += 10
    with pytest.raises(RateLimited) as limited:
        rules.request()
    assert limited.value.retry_after == 20
    assert len(rules.provider.sent) == 1


def test_a_repeated_idempotency_key_replays_the_first_answer_and_sends_once(rules: Rules) -> None:
    first = rules.request(idempotency_key="k-1")
    rules.now += 1
    replay = rules.request(idempotency_key="k-1")
    assert replay.body["verification_id"] == first.body["verification_id"]
    assert len(rules.provider.sent) == 1


def test_an_idempotency_key_with_another_body_is_refused(rules: Rules) -> None:
    rules.request(idempotency_key="k-1")
    with pytest.raises(IdempotencyKeyReused):
        rules.request(idempotency_key="k-1", locale="de")


def test_a_rejected_send_is_undone_and_reported(rules: Rules) -> None:
    rules.provider.error = "InvalidParameter"
    with pytest.raises(DeliveryFailed):
        rules.request()
    assert rules.store.calls == ["save_pending_code", "release_send"]
    assert rules.store.users["alice"].code_mac is None


def test_verify_accepts_the_right_code_once(rules: Rules) -> None:
    rules.request()
    code = rules.last_code()
    assert rules.verify(code).body == {"status": "approved", "verified": True}
    assert rules.refuses(code)


def test_verify_refuses_an_expired_code(rules: Rules) -> None:
    rules.request()
    rules.now += 300
    assert rules.refuses(rules.last_code())


def test_verify_refuses_a_canceled_code(rules: Rules) -> None:
    rules.request()
    assert rules.cancel().body == {"status": "canceled"}
    assert rules.refuses(rules.last_code())


def test_a_code_of_the_wrong_length_is_invalid_and_counts_no_attempt(rules: Rules) -> None:
    rules.request()
    with pytest.raises(InvalidRequest):
        rules.verify("12345")
    assert rules.store.calls == ["save_pending_code"]


@pytest.mark.parametrize("policy", [Policy(max_verify_attempts=n) for n in (1, 3, 5)])
def test_the_lockout_comes_at_max_attempts_and_the_code_stays_burned(
    rules: Rules, policy: Policy
) -> None:
    rules.request()
    code = rules.last_code()
    n = policy.max_verify_attempts
    assert all(rules.refuses(_wrong(code, k)) for k in range(1, n))
    with pytest.raises(TooManyAttempts) as locked:
        rules.verify(_wrong(code, n))
    assert locked.value.retry_after == 30
    rules.now += 10
    with pytest.raises(TooManyAttempts) as still:
        rules.verify(code)
    assert still.value.retry_after == 20


def test_the_right_code_after_max_minus_one_failures_is_accepted(rules: Rules) -> None:
    rules.request()
    code = rules.last_code()
    assert all(rules.refuses(_wrong(code, k)) for k in range(1, 5))
    assert rules.verify(code).status == 200


def test_a_burned_code_stays_dead_after_the_attempt_window_ends(rules: Rules) -> None:
    """The window frees the answer, not the code: attempts per code stay capped."""
    rules.now = 3600 * 500_000 + 3600 - 60
    rules.request()
    code = rules.last_code()
    for k in range(1, 5):
        rules.refuses(_wrong(code, k))
    with pytest.raises(TooManyAttempts):
        rules.verify(_wrong(code, 5))
    rules.now += 60
    with pytest.raises((InvalidCode, TooManyAttempts)):
        rules.verify(code)


def test_a_new_code_starts_a_fresh_count(rules: Rules) -> None:
    rules.request()
    for k in range(1, 6):
        with pytest.raises((InvalidCode, TooManyAttempts)):
            rules.verify(_wrong(rules.last_code(), k))
    rules.now += 30
    rules.request()
    assert rules.verify(rules.last_code()).status == 200


def test_codes_in_flight_verify_after_a_key_rotation(rules: Rules) -> None:
    rules.request()
    code = rules.last_code()
    rules.rotate()
    assert rules.verify(code).status == 200


def test_a_user_with_no_code_is_refused_like_a_wrong_code(rules: Rules) -> None:
    """The guess is compared against nothing, and the answer is the same 400."""
    assert rules.refuses("123456", user_id="nobody")
    assert rules.store.calls == ["attempt"]


def test_the_attempt_that_used_the_code_is_no_failure(rules: Rules) -> None:
    """After an approval the window still allows `maxVerifyAttempts` failures, as for anyone."""
    rules.request()
    code = rules.last_code()
    assert rules.verify(code).status == 200
    assert all(rules.refuses(_wrong(code, k)) for k in range(1, 5))
    with pytest.raises(TooManyAttempts):
        rules.verify(_wrong(code, 5))


def test_failures_of_an_earlier_window_do_not_lock_out_the_next(rules: Rules) -> None:
    rules.request()
    code = rules.last_code()
    window = rules.policy.send_window_seconds
    assert all(rules.refuses(_wrong(code, k)) for k in range(1, 5))
    rules.now = (rules.now // window + 1) * window
    assert rules.refuses(_wrong(code, 5)), "4 failures an hour ago and 1 now are not a lockout"
