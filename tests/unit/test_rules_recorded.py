"""What request-token stores and answers on its less trodden paths: test destinations, a replay's
times, the verification record, and the Fraud Guard checks each SMS is given to pass."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from otp_service.handlers.errors import (
    DeliveryFailed,
    DestinationBlocked,
    DestinationNotAllowed,
    InvalidCode,
    RateLimited,
    TooManyAttempts,
)
from otp_service.handlers.fraud import FraudPolicy
from otp_service.handlers.messages import Autofill
from otp_service.handlers.sending import REPLAYED_HEADER
from otp_service.handlers.settings import Policy
from tests.support.fakes import START
from tests.support.rules import Rules
from tests.unit.test_rules_observed import MASKED, Observed, observed

__all__ = ["observed"]  # the fixture, shared with the answers' and logs' tests

TEST_NUMBER = "+15555550100"


@pytest.fixture
def with_tests() -> Rules:
    destinations = {TEST_NUMBER: "123456", "QA.Team@Example.com": "654321"}
    return Rules(Policy.model_validate({"testDestinations": destinations}))


def test_a_test_number_pends_its_fixed_code_sends_nothing_and_says_so(
    with_tests: Rules, observed: Observed
) -> None:
    answer = with_tests.request(destination=TEST_NUMBER)
    answer.body.pop("verification_id")
    assert (answer.status, answer.headers) == (202, {})
    assert answer.body == {
        "status": "pending",
        "channel": "sms",
        "destination": "+1555******00",
        "expires_in": 300,
        "resend_after": 30,
    }
    assert with_tests.provider.sent == []
    assert observed.metrics == [("TestCodePended", "sms")]
    assert observed.logs == [("info", "test recipient: nothing sent", {"channel": "sms"})]
    assert with_tests.verify("123456").body == {"status": "approved", "verified": True}


def test_a_test_address_matches_in_any_case_and_is_counted_as_email(
    with_tests: Rules, observed: Observed
) -> None:
    answer = with_tests.request(channel="email", destination="qa.team@example.COM")
    assert answer.body["destination"] == "q***@example.com"
    assert with_tests.provider.sent == []
    assert observed.metrics == [("TestCodePended", "email")]
    assert observed.logs == [("info", "test recipient: nothing sent", {"channel": "email"})]
    assert with_tests.verify("654321").status == 200


def test_a_test_destination_keeps_its_limits(with_tests: Rules) -> None:
    with_tests.request(destination=TEST_NUMBER)
    with pytest.raises(RateLimited):
        with_tests.request(destination=TEST_NUMBER)


def test_a_test_destination_is_marked_and_left_out_of_fraud_guard(with_tests: Rules) -> None:
    with_tests.fraud_guard = FraudPolicy()
    with_tests.store.blocked = DestinationBlocked(budget_spent=True)
    with_tests.request(destination=TEST_NUMBER)
    [(pending, guard)] = with_tests.store.saved
    assert (pending.test, pending.fraud_prefix, guard) == (True, None, None)


@pytest.mark.parametrize(
    ("later", "expires_in", "resend_after"),
    [(0, 300, 30), (1, 299, 29), (20, 280, 10), (45, 255, 0), (400, 0, 0)],
)
def test_a_replay_counts_its_times_down_to_now(
    rules: Rules, observed: Observed, later: int, expires_in: int, resend_after: int
) -> None:
    first = rules.request(idempotency_key="k")
    observed.metrics.clear()
    observed.logs.clear()
    rules.now += later
    replay = rules.request(idempotency_key="k")
    assert replay.status == 202
    assert replay.headers == {REPLAYED_HEADER: "true"}
    assert replay.body == {**first.body, "expires_in": expires_in, "resend_after": resend_after}
    assert len(rules.provider.sent) == 1
    assert (observed.metrics, observed.logs) == ([], [])


def test_a_record_stored_without_its_send_time_replays_its_times_unchanged(rules: Rules) -> None:
    """A record written before replays counted down (it has no `_sent_at`) still answers."""
    first = rules.request(idempotency_key="k")
    [(digest, (record, expires_at))] = rules.store.records.items()
    answer = json.loads(record.answer)
    del answer["_sent_at"]
    old = type(record)(record.key_digest, record.fingerprint, json.dumps(answer))
    rules.store.records[digest] = (old, expires_at)
    rules.now += 20
    assert rules.request(idempotency_key="k").body == first.body


def test_the_verification_record_names_the_send_without_the_destination(rules: Rules) -> None:
    answer = rules.request()
    [(pending, guard)] = rules.store.saved
    assert pending.user_id == "alice"
    assert pending.channel == "sms"
    assert pending.verification_id == answer.body["verification_id"]
    assert pending.masked_destination == MASKED
    assert pending.retention_seconds == rules.policy.verification_retention_days * 86_400
    assert pending.test is False
    assert pending.retired_destination_macs == ()
    assert "4155550123" not in repr(pending)
    # The finest prefix, not the number: Fraud Guard credits its conversion on verify.
    assert pending.fraud_prefix == "+1 4155"
    assert guard is None  # Fraud Guard off: no checks for the store to make


def test_a_handset_is_named_by_its_user_and_its_destination(rules: Rules) -> None:
    """Fraud Guard proves a number to the account that verified it, never to every account."""
    rules.request()
    rules.request(user_id="bob")
    rules.now += 60
    rules.request(user_id="bob", destination="+14155550124")
    [(alice, _), (bob, _), (other, _)] = rules.store.saved
    assert alice.destination_mac == bob.destination_mac
    assert len({alice.handset_macs[0], bob.handset_macs[0], other.handset_macs[0]}) == 3
    assert "4155550123" not in alice.handset_macs[0]


def test_an_email_record_has_no_prefix_and_no_guard(rules: Rules) -> None:
    rules.fraud_guard = FraudPolicy()
    rules.request(channel="email", destination="jane@example.com")
    [(pending, guard)] = rules.store.saved
    assert (pending.channel, pending.fraud_prefix, guard) == ("email", None, None)


@pytest.mark.parametrize("error", ["InvalidParameter", "Throttling"])
def test_an_sms_is_given_fraud_guards_checks_and_its_undo_gives_them_back(
    rules: Rules, error: str
) -> None:
    rules.fraud_guard = FraudPolicy()
    rules.provider.error = error  # refused for good, or a transient failure the shell retries
    with pytest.raises(DeliveryFailed if error == "InvalidParameter" else ClientError):
        rules.request()
    [(_, guard)] = rules.store.saved
    assert guard is not None
    assert guard.prefixes == ("+1 41", "+1 415", "+1 4155")
    assert guard.now == START
    assert [limit for _, limit in guard.budgets] == [FraudPolicy().daily_budget]
    assert rules.store.released == [guard]


def test_fraud_guard_switched_off_checks_nothing(rules: Rules) -> None:
    rules.fraud_guard = FraudPolicy(enabled=False)
    rules.store.blocked = DestinationBlocked(budget_spent=False)
    assert rules.request().status == 202
    assert rules.store.saved[0][1] is None


@pytest.mark.parametrize(
    ("budget_spent", "metrics"),
    [
        (False, [("BlockedSend", "sms")]),
        (True, [("BlockedSend", "sms"), ("SmsBudgetExhausted", "sms")]),
    ],
)
def test_a_blocked_send_is_refused_as_a_country_outside_the_list_and_counted(
    rules: Rules, observed: Observed, budget_spent: bool, metrics: list[tuple[str, str]]
) -> None:
    rules.fraud_guard = FraudPolicy()
    rules.store.blocked = DestinationBlocked(budget_spent)
    with pytest.raises(DestinationNotAllowed) as refused:
        rules.request()
    assert refused.value.premium_rate is False
    assert refused.value.__suppress_context__  # nothing says it was Fraud Guard
    assert observed.metrics == metrics
    assert rules.provider.sent == []


def test_a_proven_handset_under_a_blocked_range_is_sent_past_the_range_but_not_the_budget(
    rules: Rules,
) -> None:
    rules.fraud_guard = FraudPolicy()
    rules.store.blocked = DestinationBlocked(budget_spent=False)
    with pytest.raises(DestinationNotAllowed):
        rules.request()
    [(pending, refused)] = rules.store.saved
    rules.store.proven_handsets = {pending.handset_macs[0]}
    with pytest.raises(DestinationNotAllowed):  # the number, proven by another account
        rules.request(user_id="bob")
    assert rules.request().status == 202
    [(_, first), (_, spared)] = rules.store.saved[2:]
    assert first == refused
    assert spared is not None and refused is not None
    assert (spared.prefixes, spared.budgets) == ((), refused.budgets)
    assert len(rules.provider.sent) == 1


def test_a_spent_budget_refuses_a_proven_handset_without_looking_it_up(rules: Rules) -> None:
    rules.fraud_guard = FraudPolicy()
    rules.store.blocked = DestinationBlocked(budget_spent=True)
    with pytest.raises(DestinationNotAllowed):
        rules.request()
    rules.store.proven_handsets = set(rules.store.saved[0][0].handset_macs)
    with pytest.raises(DestinationNotAllowed):
        rules.request()
    assert "is_proven_handset" not in rules.store.calls


def test_an_email_names_its_verification_for_the_delivery_receipts(rules: Rules) -> None:
    rules.receipts_configuration_set = "otp-receipts"
    answer = rules.request(channel="email", destination="jane@example.com")
    tags = [{"Name": "verification_id", "Value": answer.body["verification_id"]}]
    assert rules.provider.email_tags == [tags]


def test_an_sms_carries_the_autofill_lines_it_is_configured_with(rules: Rules) -> None:
    rules.autofill = Autofill(web_otp_domain="login.example.com")
    rules.request()
    code = rules.last_code()
    assert rules.provider.sent[0][1].endswith(f"\n@login.example.com #{code}")


def test_probes_past_the_attempts_a_code_records_lock_no_one_out_again(
    rules: Rules, observed: Observed
) -> None:
    """Each window's lockout is counted once, even after the item stops recording attempts."""
    rules.request()
    wrong = f"{(int(rules.last_code()) + 1) % 10**6:06d}"
    window = rules.policy.send_window_seconds
    rules.now = (rules.now // window) * window + window - 10  # the 1st window's last seconds
    observed.metrics.clear()
    for _ in range(6):  # five failures lock the user out; the sixth is one more
        with pytest.raises((InvalidCode, TooManyAttempts)):
            rules.verify(wrong)
    rules.now += 10  # a new window: its failures are counted afresh
    for _ in range(6):  # the fifth fills the code's room (11 entries); the sixth is not recorded
        with pytest.raises((InvalidCode, TooManyAttempts)):
            rules.verify(wrong)
    assert [metric for metric, _ in observed.metrics].count("LockedOut") == 2
    assert observed.metrics[-1] == ("VerifyFailed", "sms")


def test_a_cancel_records_when_it_ended_the_code_once(rules: Rules) -> None:
    rules.request()
    rules.now += 7
    rules.cancel()
    rules.now += 5
    rules.cancel()  # the same answer, and the verification keeps its first outcome time
    assert rules.store.users["alice"].ended_at == START + 7
