"""POST /verify-token and POST /cancel-token against moto."""

from __future__ import annotations

import pytest

from otp_service.handlers.settings import Policy
from tests.support.moto_service import Service


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def test_the_right_code_is_approved(service: Service) -> None:
    service.request()
    reply = service.verify(service.last_code())
    assert (reply.status, reply.body) == (200, {"status": "approved", "verified": True})


def test_verify_rejects_a_code_used_twice(service: Service) -> None:
    service.request()
    code = service.last_code()
    assert service.verify(code).status == 200
    reply = service.verify(code)
    assert reply.status == 400
    assert reply.body["error"]["code"] == "invalid_code"
    assert reply.body["verified"] is False


def test_verify_rejects_a_wrong_code(service: Service) -> None:
    service.request()
    reply = service.verify(_wrong(service.last_code()))
    assert (reply.status, reply.body["error"]["code"], reply.body["verified"]) == (
        400,
        "invalid_code",
        False,
    )


def test_verify_rejects_an_expired_code(service: Service) -> None:
    service.request()
    service.clock.advance(300)
    assert service.verify(service.last_code()).status == 400


def test_verify_accepts_a_code_just_before_it_expires(service: Service) -> None:
    service.request()
    service.clock.advance(299)
    assert service.verify(service.last_code()).status == 200


def test_a_code_is_bound_to_its_user(service: Service) -> None:
    service.request(user_id="alice")
    assert service.verify(service.last_code(), user_id="mallory").status == 400


def test_wrong_expired_used_and_missing_codes_answer_identically(service: Service) -> None:
    service.request(user_id="wrong")
    wrong = service.verify(_wrong(service.last_code()), user_id="wrong")
    service.request(user_id="used", destination="+14155550124")
    used_code = service.last_code()
    service.verify(used_code, user_id="used")
    used = service.verify(used_code, user_id="used")
    service.request(user_id="expired", destination="+14155550125")
    service.clock.advance(301)
    expired = service.verify(service.last_code(), user_id="expired")
    missing = service.verify("123456", user_id="nobody")
    assert wrong == used == expired == missing


@pytest.mark.parametrize("code", ["12345", "1234567", "12a456", "", "١٢٣٤٥٦"])
def test_a_code_of_the_wrong_shape_is_invalid_request_and_no_attempt(
    service: Service, code: str
) -> None:
    service.request()
    for _ in range(6):
        reply = service.verify(code)
        assert reply.status == 400
        assert reply.body["error"]["code"] == "invalid_request"
    assert service.verify(service.last_code()).status == 200


def test_verify_rejects_a_malformed_body(service: Service) -> None:
    reply = service.call("/verify-token", {"user_id": "alice", "code": 123456})
    assert reply.status == 400
    assert reply.body["error"]["fields"][0]["field"] == "code"


def test_the_fifth_failure_locks_out_and_burns_the_code(service: Service) -> None:
    service.request()
    code = service.last_code()
    statuses = [service.verify(_wrong(code)).status for _ in range(5)]
    assert statuses == [400, 400, 400, 400, 429]
    locked = service.verify(code)
    assert locked.status == 429
    assert locked.body["error"]["code"] == "too_many_attempts"
    assert locked.body["verified"] is False
    assert locked.body["error"]["retry_after"] == 30
    assert locked.headers["Retry-After"] == "30"


def test_after_a_lockout_a_new_code_is_accepted_once_the_cooldown_passes(
    service: Service,
) -> None:
    service.request()
    for _ in range(5):
        service.verify(_wrong(service.last_code()))
    service.clock.advance(10)
    assert service.verify(service.last_code()).body["error"]["retry_after"] == 20
    assert service.request().status == 429
    service.clock.advance(20)
    assert service.request().status == 202
    assert service.verify(service.last_code()).status == 200


def test_an_unknown_user_is_locked_out_exactly_like_a_known_one(service: Service) -> None:
    service.request(user_id="known")
    known = [service.verify(_wrong(service.last_code()), user_id="known") for _ in range(6)]
    unknown = [service.verify("000000", user_id="unknown") for _ in range(6)]
    assert [(r.status, r.body, r.headers) for r in known] == [
        (r.status, r.body, r.headers) for r in unknown
    ]


def test_failed_attempts_are_forgotten_after_the_window(service: Service) -> None:
    for _ in range(4):
        service.verify("000000", user_id="bob")
    service.clock.advance(3600)
    assert service.verify("000000", user_id="bob").status == 400
    assert service.verify("000000", user_id="bob").status == 400


@pytest.mark.parametrize("policy", [Policy(code_length=8, max_verify_attempts=2)])
def test_code_length_and_attempt_limit_follow_the_policy(service: Service) -> None:
    service.request()
    code = service.last_code()
    assert len(code) == 8
    assert service.verify(code[:6]).body["error"]["code"] == "invalid_request"
    assert [service.verify(_wrong(code)).status for _ in range(2)] == [400, 429]


def test_cancel_burns_the_pending_code(service: Service) -> None:
    service.request()
    reply = service.cancel()
    assert (reply.status, reply.body) == (200, {"status": "canceled"})
    assert service.verify(service.last_code()).status == 400


def test_cancel_answers_the_same_with_or_without_a_pending_code(service: Service) -> None:
    service.request(user_id="alice")
    assert service.cancel("alice") == service.cancel("alice") == service.cancel("nobody")
    assert all(not item["pk"]["S"].endswith("nobody") for item in service.items())


def test_cancel_rejects_an_unknown_field(service: Service) -> None:
    reply = service.call("/cancel-token", {"user_id": "alice", "code": "123456"})
    assert reply.status == 400
    assert reply.body["error"]["fields"] == [{"field": "code", "message": "is not a known field"}]
