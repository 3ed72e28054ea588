"""`testDestinations` (API.md, "Test destinations"): a fixed code, nothing sent, every rule kept."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from otp_service.handlers.settings import Policy
from tests.support.moto_service import Service

TEST_NUMBER = "+15555550100"
"""A fictional number (NANP 555-01xx): no carrier serves it, so it must never be parsed as real."""
TEST_EMAIL = "qa@example.com"
TEST_POLICY = Policy(
    test_destinations={TEST_NUMBER: "123456", "QA@Example.com": "654321"}, max_verify_attempts=2
)


@pytest.fixture
def policy() -> Policy:
    return TEST_POLICY


def test_a_test_number_pends_its_fixed_code_and_sends_nothing(service: Service) -> None:
    reply = service.request(destination=TEST_NUMBER)
    assert reply.status == 202
    assert reply.body["destination"] == "+1555******00"
    assert service.sms() == []
    assert service.verify("123456").body == {"status": "approved", "verified": True}


def test_a_test_email_matches_whatever_its_case(service: Service) -> None:
    reply = service.request(channel="email", destination=TEST_EMAIL)
    assert reply.status == 202
    assert service.emails() == []
    assert service.verify("654321").status == 200


def test_a_test_code_is_accepted_at_most_once(service: Service) -> None:
    service.request(destination=TEST_NUMBER)
    assert service.verify("123456").status == 200
    replay = service.verify("123456")
    assert (replay.status, replay.body["error"]["code"]) == (400, "invalid_code")


def test_a_test_destination_keeps_the_resend_cooldown(service: Service) -> None:
    assert service.request(destination=TEST_NUMBER).status == 202
    again = service.request(destination=TEST_NUMBER)
    assert (again.status, again.body["error"]["code"]) == (429, "rate_limited")


def test_a_test_destination_keeps_the_attempt_limit(service: Service) -> None:
    service.request(destination=TEST_NUMBER)
    assert service.verify("000000").status == 400
    assert service.verify("000000").status == 429
    locked = service.verify("123456")
    assert (locked.status, locked.body["error"]["code"]) == (429, "too_many_attempts")


def test_a_real_destination_still_gets_a_random_code_by_sms(service: Service) -> None:
    service.request()
    assert len(service.sms()) == 1
    assert service.settings.policy.is_test_destination("+14155550123") is False
    assert service.settings.policy.is_test_destination(TEST_NUMBER) is True


@pytest.mark.parametrize("policy", [Policy()])
def test_without_test_destinations_a_fictional_number_is_refused(service: Service) -> None:
    reply = service.request(destination=TEST_NUMBER)
    assert (reply.status, reply.body["error"]["code"]) == (400, "invalid_request")


def test_a_test_code_of_the_wrong_length_names_the_key() -> None:
    with pytest.raises(ValidationError, match="testDestinations: every code must be 8 digits"):
        Policy(code_length=8, test_destinations={TEST_NUMBER: "123456"})


def test_a_test_destination_that_is_neither_a_number_nor_an_address_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"E\.164 phone number"):
        Policy(test_destinations={"5555550100": "123456"})


def test_a_test_destination_marks_its_lifecycle_events_as_tests(service: Service) -> None:
    from .test_lifecycle_flows import Lifecycle

    lifecycle = Lifecycle(service)
    assert service.request(destination=TEST_NUMBER).status == 202
    assert service.verify("123456").status == 200
    assert service.request(user_id="bob").status == 202
    events = lifecycle.events()
    tests = [e["type"] for e in events if e.get("test") is True]
    real = [e["type"] for e in events if "test" not in e]
    assert tests == ["verification.pending", "verification.approved"]
    assert real == ["verification.pending"]
