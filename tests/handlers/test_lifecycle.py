"""The lifecycle decoding: each status and event type from a user item's before and after images."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from otp_service.handlers.attempts import ATTEMPTS, MAX_ATTEMPTS
from otp_service.handlers.events import decode, process
from otp_service.handlers.lifecycle import (
    Transition,
    is_verification_id,
    new_verification_id,
    receipts,
    rfc3339,
    state_of,
    transitions,
)
from otp_service.handlers.table import (
    CREATED_AT,
    DELIVERY,
    DELIVERY_AT,
    EXPIRES_AT,
    MASKED_DESTINATION,
    OUTCOME,
    OUTCOME_AT,
    TEST,
    USER_ID,
    VERIFICATION_ID,
    Status,
)

T0 = 1_800_000_000
TTL = 300
VF_A = "vf_" + "a" * 32
VF_B = "vf_" + "b" * 32


def user_item(
    verification_id: str = VF_A,
    created_at: int = T0,
    outcome: Status | None = None,
    outcome_at: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A user item image as the stream carries it (DynamoDB JSON)."""
    item: dict[str, Any] = {
        "pk": {"S": "user#alice"},
        VERIFICATION_ID: {"S": verification_id},
        CREATED_AT: {"N": str(created_at)},
        EXPIRES_AT: {"N": str(created_at + TTL)},
        MASKED_DESTINATION: {"S": "+1415******23"},
        "channel": {"S": "sms"},
        "code_mac": {"B": b"never published"},
        **extra,
    }
    if outcome is not None:
        item[OUTCOME] = {"S": outcome.value}
        item[OUTCOME_AT] = {"N": str(outcome_at if outcome_at is not None else created_at + 10)}
    return item


def kinds(found: list[Transition]) -> list[tuple[str, str, int]]:
    return [(t.verification.verification_id, t.type.value, t.occurred_at) for t in found]


def test_a_verification_id_has_at_least_128_random_bits_and_a_fixed_shape() -> None:
    ids = {new_verification_id() for _ in range(1000)}
    assert len(ids) == 1000
    for verification_id in ids:
        assert is_verification_id(verification_id)
        # base32: 5 bits per character after the prefix.
        assert (len(verification_id) - 3) * 5 >= 128


@pytest.mark.parametrize(
    "text", ["", "vf_", "vf_" + "a" * 31, "vf_" + "A" * 32, "vf_" + "a" * 33, "xx_" + "a" * 32]
)
def test_malformed_ids_are_not_verification_ids(text: str) -> None:
    assert not is_verification_id(text)


def test_a_first_request_is_pending() -> None:
    assert kinds(transitions(None, user_item())) == [(VF_A, "pending", T0)]


def test_a_write_that_changes_no_verification_state_publishes_nothing() -> None:
    """A wrong guess counts an attempt on the item; the verification is still pending."""
    assert transitions(user_item(), user_item(attempts={"N": "1"})) == []


@pytest.mark.parametrize(
    "outcome",
    [Status.APPROVED, Status.CANCELED, Status.MAX_ATTEMPTS_REACHED, Status.DELIVERY_FAILED],
)
def test_an_outcome_written_on_a_live_code_is_published_at_its_time(outcome: Status) -> None:
    after = user_item(outcome=outcome, outcome_at=T0 + 42)
    assert kinds(transitions(user_item(), after)) == [(VF_A, outcome.value, T0 + 42)]


def test_an_outcome_written_after_expiry_is_an_expiry_at_the_expiry_time() -> None:
    """Canceling a code that already expired does not make the verification canceled."""
    after = user_item(outcome=Status.CANCELED, outcome_at=T0 + TTL + 5)
    assert kinds(transitions(user_item(), after)) == [(VF_A, "expired", T0 + TTL)]


def test_a_new_request_supersedes_a_live_verification() -> None:
    after = user_item(VF_B, created_at=T0 + 60)
    assert kinds(transitions(user_item(), after)) == [
        (VF_A, "superseded", T0 + 60),
        (VF_B, "pending", T0 + 60),
    ]


def test_a_new_request_after_expiry_ends_the_old_one_as_expired_by_the_clock() -> None:
    after = user_item(VF_B, created_at=T0 + TTL + 1)
    assert kinds(transitions(user_item(), after)) == [
        (VF_A, "expired", T0 + TTL),
        (VF_B, "pending", T0 + TTL + 1),
    ]


def test_a_new_request_after_an_outcome_ends_nothing_twice() -> None:
    before = user_item(outcome=Status.APPROVED)
    after = user_item(VF_B, created_at=T0 + 60)
    assert kinds(transitions(before, after)) == [(VF_B, "pending", T0 + 60)]


def test_an_item_deleted_by_ttl_expires_its_open_verification_at_the_expiry_time() -> None:
    assert kinds(transitions(user_item(), None)) == [(VF_A, "expired", T0 + TTL)]
    assert transitions(user_item(outcome=Status.APPROVED), None) == []


def test_a_later_outcome_write_never_changes_a_terminal_status() -> None:
    before = user_item(outcome=Status.APPROVED, outcome_at=T0 + 1)
    after = user_item(outcome=Status.APPROVED, outcome_at=T0 + 1, attempts={"N": "3"})
    assert transitions(before, after) == []


def test_items_without_a_verification_publish_nothing() -> None:
    """Counters, idempotency records and users who only ever guessed carry no verification."""
    assert transitions(None, {"pk": {"S": "user#bob"}, "attempts": {"N": "1"}}) == []
    assert state_of({"pk": {"S": "sends#user#1#bob"}}) is None


def test_status_is_decided_by_the_clock_not_by_ttl() -> None:
    state = state_of(user_item())
    assert state is not None
    assert state.status(T0 + TTL - 1) == Status.PENDING
    assert state.status(T0 + TTL) == Status.EXPIRED


def test_the_event_has_the_contract_shape_and_nothing_secret() -> None:
    (transition,) = transitions(user_item(), user_item(outcome=Status.APPROVED, outcome_at=T0 + 2))
    event = transition.event()
    assert set(event) == {
        "event_id",
        "type",
        "verification_id",
        "user_id",
        "channel",
        "destination",
        "occurred_at",
    }
    assert event["type"] == "verification.approved"
    assert event["user_id"] == "alice"
    assert event["destination"] == "+1415******23"
    assert event["occurred_at"] == rfc3339(T0 + 2) == "2027-01-15T08:00:02Z"
    assert re.fullmatch(r"ev_[a-z2-7]{32}", event["event_id"])
    assert "never published" not in json.dumps(event)


def test_a_test_destination_marks_its_events() -> None:
    (transition,) = transitions(None, {**user_item(), TEST: {"BOOL": True}})
    assert transition.event()["test"] is True


def test_event_ids_are_unique_per_event_and_stable_across_replays() -> None:
    pending = transitions(None, user_item())[0]
    approved = transitions(user_item(), user_item(outcome=Status.APPROVED))[0]
    replayed = transitions(user_item(), user_item(outcome=Status.APPROVED))[0]
    other = transitions(None, user_item(VF_B))[0]
    assert approved.event_id == replayed.event_id
    assert len({pending.event_id, approved.event_id, other.event_id}) == 3


def record_item(**extra: Any) -> dict[str, Any]:
    return {
        "pk": {"S": f"verification#{VF_A}"},
        VERIFICATION_ID: {"S": VF_A},
        USER_ID: {"S": "alice"},
        CREATED_AT: {"N": str(T0)},
        EXPIRES_AT: {"N": str(T0 + TTL)},
        MASKED_DESTINATION: {"S": "a***@example.com"},
        "channel": {"S": "email"},
        **extra,
    }


@pytest.mark.parametrize(
    ("delivery", "kind"), [("delivered", "delivered"), ("failed", "delivery_failed")]
)
def test_a_delivery_receipt_is_published_once(delivery: str, kind: str) -> None:
    after = record_item(**{DELIVERY: {"S": delivery}, DELIVERY_AT: {"N": str(T0 + 7)}})
    assert kinds(receipts(record_item(), after)) == [(VF_A, kind, T0 + 7)]
    assert receipts(after, after) == []


def stream_record(sequence: str, old: Any, new: Any, key: str = "user#alice") -> dict[str, Any]:
    change: dict[str, Any] = {"Keys": {"pk": {"S": key}}, "SequenceNumber": sequence}
    if old is not None:
        change["OldImage"] = old
    if new is not None:
        change["NewImage"] = new
    return {"eventName": "MODIFY", "dynamodb": change}


def test_only_user_items_and_verification_records_are_decoded() -> None:
    counter = stream_record("1", None, {"pk": {"S": "sends#user#1#alice"}}, "sends#user#1#alice")
    assert decode(counter) == []
    assert len(decode(stream_record("2", None, user_item()))) == 1


def test_a_failing_record_stops_the_batch_and_is_reported_by_sequence_number() -> None:
    """Lambda retries from the first failed record, so nothing after it is half-done."""
    seen: list[str] = []
    poisoned = stream_record("2", None, {**user_item(), CREATED_AT: {"N": "not a number"}})
    batch = [
        stream_record("1", None, user_item()),
        poisoned,
        stream_record("3", None, user_item(VF_B)),
    ]
    failed = process(batch, [lambda t: seen.append(t.verification.verification_id)])
    assert failed == ["2"]
    assert seen == [VF_A]


def test_a_batch_consumer_gets_the_records_before_a_failure_at_once() -> None:
    """The records from the failed one on come back in Lambda's retry: counted then, once."""
    batches: list[list[str]] = []
    poisoned = stream_record("3", None, {**user_item(), CREATED_AT: {"N": "not a number"}})
    batch = [
        stream_record("1", None, user_item()),
        stream_record("2", None, user_item(VF_B)),
        poisoned,
        stream_record("4", None, user_item()),
    ]

    def count(records: Any) -> None:
        batches.append([r["dynamodb"]["SequenceNumber"] for r in records])

    assert process(batch, [], [count]) == ["3"]
    assert process(batch[3:], [], [count]) == []
    assert batches == [["1", "2"], ["4"]]
    assert process(batch[2:3], [], [count]) == ["3"]
    assert batches == [["1", "2"], ["4"]]


def test_a_failing_batch_consumer_retries_the_batch_from_its_first_record() -> None:
    def fail(records: Any) -> None:
        raise RuntimeError("publish failed")

    batch = [stream_record("1", None, user_item()), stream_record("2", None, user_item(VF_B))]
    assert process(batch, [], [fail]) == ["1"]


def test_every_consumer_sees_every_transition_in_order() -> None:
    first: list[str] = []
    second: list[str] = []
    batch = [stream_record("1", user_item(), user_item(VF_B, created_at=T0 + 60))]
    assert process(batch, [lambda t: first.append(t.type), lambda t: second.append(t.type)]) == []
    assert first == second == ["superseded", "pending"]


CODE_MAC = bytes(range(32))


def _attempts(*entries: tuple[int, bytes], base64_text: bool = False) -> dict[str, Any]:
    """A `verify_attempts` list: (time, guessed MAC) per entry; a stream record's binaries are
    base64 text."""

    def tag(mac: bytes) -> bytes | str:
        return base64.b64encode(mac[:8]).decode() if base64_text else mac[:8]

    return {
        ATTEMPTS: {
            "L": [
                {"M": {"made_at": {"N": str(at)}, "guess_tags": {"BS": [tag(mac)]}}}
                for at, mac in entries
            ]
        },
        MAX_ATTEMPTS: {"N": "3"},
    }


WRONG = bytes(32)


@pytest.mark.parametrize("base64_text", [False, True])
def test_the_attempt_that_used_the_code_is_the_approval(base64_text: bool) -> None:
    """Verify's one write records only the attempt: approved is read from the attempts."""
    before = user_item(code_mac={"B": CODE_MAC}, **_attempts((T0 + 5, WRONG)))
    after = user_item(
        code_mac={"B": CODE_MAC},
        **_attempts((T0 + 5, WRONG), (T0 + 9, CODE_MAC), base64_text=base64_text),
    )
    assert kinds(transitions(before, after)) == [(VF_A, "approved", T0 + 9)]
    later = user_item(
        code_mac={"B": CODE_MAC},
        **_attempts((T0 + 5, WRONG), (T0 + 9, CODE_MAC), (T0 + 20, WRONG)),
    )
    assert transitions(after, later) == []


def test_the_code_used_after_it_expired_is_an_expiry() -> None:
    after = user_item(code_mac={"B": CODE_MAC}, **_attempts((T0 + TTL + 1, CODE_MAC)))
    assert kinds(transitions(user_item(code_mac={"B": CODE_MAC}), after)) == [
        (VF_A, "expired", T0 + TTL)
    ]


def test_the_failure_that_reaches_the_limit_is_max_attempts_reached() -> None:
    """The item's own limit (3 here); a right code after it is no approval."""
    two = _attempts((T0 + 1, WRONG), (T0 + 2, WRONG))
    three = _attempts((T0 + 1, WRONG), (T0 + 2, WRONG), (T0 + 3, WRONG))
    assert kinds(
        transitions(
            user_item(code_mac={"B": CODE_MAC}, **two), user_item(**three, code_mac={"B": CODE_MAC})
        )
    ) == [(VF_A, "max_attempts_reached", T0 + 3)]
    four = _attempts((T0 + 1, WRONG), (T0 + 2, WRONG), (T0 + 3, WRONG), (T0 + 4, CODE_MAC))
    state = state_of(user_item(code_mac={"B": CODE_MAC}, **four))
    assert state is not None and state.outcome == Status.MAX_ATTEMPTS_REACHED


def test_the_first_outcome_wins_between_a_cancel_and_the_attempts() -> None:
    approved_then_canceled = user_item(
        outcome=Status.CANCELED,
        outcome_at=T0 + 30,
        code_mac={"B": CODE_MAC},
        **_attempts((T0 + 9, CODE_MAC)),
    )
    state = state_of(approved_then_canceled)
    assert state is not None and (state.outcome, state.outcome_at) == (Status.APPROVED, T0 + 9)
    canceled_then_right = user_item(
        outcome=Status.CANCELED,
        outcome_at=T0 + 9,
        code_mac={"B": CODE_MAC},
        **_attempts((T0 + 9, CODE_MAC)),
    )
    state = state_of(canceled_then_right)
    assert state is not None and state.outcome == Status.CANCELED
