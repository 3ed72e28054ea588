"""What each rule answers, counts and logs, exactly: the metrics and logs carry no secret."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pytest

import otp_service.handlers.sending as sending
import otp_service.handlers.service as service
from otp_service.handlers.errors import (
    DeliveryFailed,
    DestinationNotAllowed,
    IdempotencyKeyReused,
    InvalidCode,
    InvalidRequest,
    RateLimited,
    TooManyAttempts,
)
from tests.support.rules import Rules

MASKED = "+1415******23"


@dataclass
class Observed:
    metrics: list[tuple[str, str]] = field(default_factory=list)
    logs: list[tuple[str, str, Any]] = field(default_factory=list)

    def info(self, message: str, extra: Any = None) -> None:
        self.logs.append(("info", message, extra))

    def warning(self, message: str, extra: Any = None) -> None:
        self.logs.append(("warning", message, extra))

    def error(self, message: str, extra: Any = None) -> None:
        self.logs.append(("error", message, extra))


@pytest.fixture
def observed(monkeypatch: pytest.MonkeyPatch) -> Observed:
    seen = Observed()
    for rules_module in (sending, service):
        monkeypatch.setattr(
            rules_module, "count", lambda metric, channel: seen.metrics.append((metric, channel))
        )
        monkeypatch.setattr(rules_module, "logger", seen)
    return seen


def _sends(rules: Rules) -> dict[str, int]:
    return {name.split("#")[0]: n for name, n in rules.store.sends.items() if n}


def test_a_send_is_answered_counted_and_logged_exactly(rules: Rules, observed: Observed) -> None:
    answer = rules.request(locale="de")
    verification_id = str(answer.body.pop("verification_id"))
    assert verification_id.startswith("vf_")
    assert answer.body == {
        "status": "pending",
        "channel": "sms",
        "destination": MASKED,
        "expires_in": 300,
        "resend_after": 30,
    }
    assert observed.metrics == [("CodeSent", "sms")]
    # The provider's message id beside the verification: how an SMS receipt finds its way back.
    sent = {"channel": "sms", "masked": MASKED, "message_id": "m-1"}
    assert observed.logs == [("info", "message sent", {**sent, "verification_id": verification_id})]
    [(to, text)] = rules.provider.sent
    assert to == "+14155550123"
    assert text.startswith("Acme: Ihr Bestätigungscode lautet ")


def test_an_sms_is_never_sent_as_an_email(rules: Rules, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_email(**_: Any) -> None:
        raise AssertionError("an SMS went out by email")

    monkeypatch.setattr(rules.provider, "send_email", no_email)
    assert rules.request().status == 202


def test_each_destination_has_its_own_limit(rules: Rules) -> None:
    numbers = [f"+1415555{n:04d}" for n in range(7)]
    statuses = [rules.request(user_id=f"u{n}", destination=d).status for n, d in enumerate(numbers)]
    assert statuses == [202] * 7


def test_one_idempotency_key_with_another_destination_is_refused(rules: Rules) -> None:
    rules.request(idempotency_key="k")
    with pytest.raises(IdempotencyKeyReused):
        rules.request(idempotency_key="k", destination="+14155550124")


def test_a_record_that_expired_between_write_and_read_asks_for_a_retry_in_a_second(
    rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules.request(idempotency_key="k")
    monkeypatch.setattr(rules.store, "idempotent_answer", lambda *_: None)
    with pytest.raises(RateLimited) as refused:
        rules.request(idempotency_key="k")
    assert refused.value.retry_after == 1


def test_email_without_a_sender_is_refused_in_words(rules: Rules) -> None:
    rules.email_sender = None
    with pytest.raises(InvalidRequest) as refused:
        rules.request(channel="email", destination="jane@example.com")
    assert [(f.field, f.message) for f in refused.value.fields] == [
        ("channel", "email delivery is not configured")
    ]


def test_an_email_goes_by_email_to_the_normalised_address(rules: Rules, observed: Observed) -> None:
    answer = rules.request(channel="email", destination="Jane.Doe@Example.COM")
    assert (answer.body["channel"], answer.body["destination"]) == ("email", "J***@example.com")
    assert rules.provider.sent[0][0] == "Jane.Doe@example.com"
    assert observed.metrics == [("CodeSent", "email")]


def test_a_destination_is_one_destination_in_any_case(rules: Rules) -> None:
    rules.policy = rules.policy.model_copy(update={"resend_cooldown_seconds": 0})
    for n in range(6):
        address = "jane@example.com" if n % 2 else "JANE@example.com"
        if n < 5:
            rules.request(user_id=f"u{n}", channel="email", destination=address)
        else:
            with pytest.raises(RateLimited):
                rules.request(user_id=f"u{n}", channel="email", destination=address)


def test_a_refused_send_is_counted_under_its_channel(rules: Rules, observed: Observed) -> None:
    rules.request()
    observed.metrics.clear()
    with pytest.raises(RateLimited):
        rules.request()
    assert observed.metrics == [("RateLimited", "sms")]
    with pytest.raises(DestinationNotAllowed):
        rules.request(destination="+447911123456")
    with pytest.raises(DestinationNotAllowed):
        rules.request(destination="+19005550123")
    assert observed.metrics[1:] == [("DestinationNotAllowed", "sms")] * 2


@pytest.mark.parametrize("key", [None, "retry-me"])
def test_a_rejected_send_is_undone_counted_and_logged(
    rules: Rules, observed: Observed, key: str | None
) -> None:
    rules.provider.error = "InvalidParameter"
    with pytest.raises(DeliveryFailed):
        rules.request(idempotency_key=key)
    assert _sends(rules) == {}
    assert rules.store.records == {}
    assert observed.metrics == [("DeliveryFailed", "sms")]
    assert observed.logs == [("warning", "delivery rejected", {"channel": "sms", "masked": MASKED})]
    rules.provider.error = None
    assert rules.request(idempotency_key=key).status == 202
    assert _sends(rules) == {"user": 1, "dest": 1}


def test_a_send_that_fails_otherwise_is_undone_too(rules: Rules) -> None:
    rules.provider.error = "Throttling"
    with pytest.raises(Exception):  # noqa: B017 - whatever the shell turns it into
        rules.request(idempotency_key="k")
    assert _sends(rules) == {} and rules.store.records == {}


def test_an_undo_that_fails_is_logged_by_its_type_only(
    rules: Rules, observed: Observed, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: Any) -> None:
        raise KeyError("+14155550123")

    monkeypatch.setattr(rules.store, "release_send", refuse)
    rules.provider.error = "InvalidParameter"
    with pytest.raises(DeliveryFailed):
        rules.request()
    assert ("error", "could not undo an undelivered send", {"error": "KeyError"}) in observed.logs


def test_verify_outcomes_are_counted_and_logged_exactly(rules: Rules, observed: Observed) -> None:
    rules.request()
    code = rules.last_code()
    observed.metrics.clear()
    observed.logs.clear()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    with pytest.raises(InvalidCode):
        rules.verify(wrong)
    assert rules.verify(code).body == {"status": "approved", "verified": True}
    assert observed.metrics == [("VerifyFailed", "sms"), ("CodeVerified", "sms")]
    assert observed.logs == [
        ("info", "verification rejected", {"channel": "sms", "attempts": 1}),
        ("info", "verification approved", {"channel": "sms"}),
    ]


def test_a_lockout_is_counted_and_logged_once(rules: Rules, observed: Observed) -> None:
    rules.request()
    code = rules.last_code()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    observed.metrics.clear()
    for _ in range(4):
        with pytest.raises(InvalidCode):
            rules.verify(wrong)
        rules.now += 1
    # The lockout is the 5th attempt's: the cooldown runs from then, not from a later probe.
    for expected_retry in (30, 29):
        with pytest.raises(TooManyAttempts) as locked:
            rules.verify(wrong)
        assert locked.value.retry_after == expected_retry
        rules.now += 1
    assert observed.metrics == [("VerifyFailed", "sms")] * 4 + [
        ("LockedOut", "sms"),
        ("VerifyFailed", "sms"),
    ]
    assert ("warning", "user locked out", {"channel": "sms"}) in observed.logs


def test_cancel_is_counted_without_a_channel(rules: Rules, observed: Observed) -> None:
    canceled = rules.cancel()
    assert (canceled.status, canceled.body) == (200, {"status": "canceled"})
    assert observed.metrics == [("CodeCanceled", "unknown")]


@pytest.mark.parametrize("key", ["", "x" * 65, "a b", "ключ", "\x7f"])
def test_an_idempotency_key_must_be_1_to_64_visible_ascii_characters(
    rules: Rules, key: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        rules.request(idempotency_key=key)
    assert [(f.field, f.message) for f in refused.value.fields] == [
        ("Idempotency-Key", "must be 1-64 visible ASCII characters")
    ]


@pytest.mark.parametrize("key", ["k", "x" * 64, "!~"])
def test_idempotency_keys_at_the_limits_are_accepted(rules: Rules, key: str) -> None:
    assert rules.request(idempotency_key=key).status == 202
    assert list(rules.store.records) == [hashlib.sha256(key.encode()).hexdigest()]


def test_a_rotation_keeps_counting_a_destination_under_its_old_name(rules: Rules) -> None:
    """Issue 11, defect 4: the destination's sends before a rotation still count after it."""
    rules.policy = rules.policy.model_copy(update={"resend_cooldown_seconds": 0})
    for n in range(3):
        rules.request(user_id=f"u{n}")
    rules.rotate()
    for n in range(3, 5):
        rules.request(user_id=f"u{n}")
    with pytest.raises(RateLimited):
        rules.request(user_id="u5")
    assert sorted(n for name, n in rules.store.sends.items() if name.startswith("dest")) == [2, 5]
