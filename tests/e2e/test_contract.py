"""The contract over real HTTP, against one otp-local with the dev stack and an email sender."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from otp_service.handlers.lifecycle import is_verification_id
from otp_service.local.process import Reply
from tests.support.local_stack import SENDER, Stack, phone_number, started, user_id


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    yield from started("-c", f"emailSender={SENDER}")


@pytest.fixture(autouse=True)
def no_faults(stack: Stack) -> Iterator[None]:
    yield
    stack.heal()


def assert_error(reply: Reply, status: int, code: str) -> Any:
    """The error body, once it has the contract's shape, status and code."""
    assert reply.status == status, reply
    assert reply.body["error"]["code"] == code, reply.body
    assert isinstance(reply.body["error"]["message"], str)
    return reply.body


def test_an_sms_code_is_sent_masked_and_verifies_once(stack: Stack) -> None:
    user, phone = user_id(), phone_number()
    requested = stack.request(user, phone)
    assert requested.status == 202
    assert is_verification_id(requested.body.pop("verification_id"))
    assert requested.body == {
        "status": "pending",
        "channel": "sms",
        "destination": f"+{phone[1:5]}******{phone[-2:]}",
        "expires_in": 300,
        "resend_after": 30,
    }
    [sms] = stack.messages_to(phone)
    assert sms["channel"] == "sms"
    assert "OTP Dev" in sms["body"]
    code = stack.last_code(phone)
    assert stack.verify(user, code).body == {"status": "approved", "verified": True}
    assert_error(stack.verify(user, code), 400, "invalid_code")


def test_an_email_code_is_sent_to_the_normalised_address_and_verifies(stack: Stack) -> None:
    user = user_id()
    address = f"{user}@Example.COM"
    requested = stack.request(user, address, channel="email", locale="de-DE")
    assert requested.status == 202
    assert requested.body["destination"] == f"{user[0]}***@example.com"
    [email] = stack.messages_to(f"{user}@example.com")
    assert email["channel"] == "email"
    assert "Bestätigungscode" in email["body"]
    verified = stack.verify(user, stack.last_code(f"{user}@example.com"))
    assert verified.status == 200


def test_each_captured_message_is_printed_and_each_request_logged(stack: Stack) -> None:
    user, phone = user_id(), phone_number()
    requested = stack.request(user, phone)
    request_id = requested.headers["x-amzn-RequestId"]
    stack.process.wait_for_line(rf"\[outbox\] sms to \{phone}")
    stack.process.wait_for_line(rf"^POST /request-token 202 [0-9.]+ms request_id={request_id}$")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"{not json", "body"),
        (b'["a list"]', "body"),
        (json.dumps({"destination": "+14155550100"}).encode(), "user_id"),
        (json.dumps({"user_id": "u", "destination": "+14155550100", "pin": 1}).encode(), "pin"),
        (json.dumps({"user_id": 5, "destination": "+14155550100"}).encode(), "user_id"),
        (json.dumps({"user_id": "a b", "destination": "+14155550100"}).encode(), "user_id"),
        (json.dumps({"user_id": "u", "channel": "fax", "destination": "x"}).encode(), "channel"),
        (json.dumps({"user_id": "u", "destination": "+1415"}).encode(), "destination"),
        (
            json.dumps({"user_id": "u", "channel": "email", "destination": "no-at"}).encode(),
            "destination",
        ),
    ],
)
def test_a_malformed_request_is_invalid_and_names_the_field(
    stack: Stack, raw: bytes, field: str
) -> None:
    reply = stack.call("POST", "/request-token", raw=raw)
    body = assert_error(reply, 400, "invalid_request")
    fields = body["error"]["fields"]
    assert field in [f["field"] for f in fields]


def test_sms_to_a_country_outside_the_allowed_list_is_refused(stack: Stack) -> None:
    reply = stack.request(user_id(), "+442071838750")
    assert_error(reply, 403, "destination_not_allowed")
    assert "2071838750" not in json.dumps(reply.body)


def test_a_body_over_8_kib_is_too_large(stack: Stack) -> None:
    padding = "x" * 9000
    raw = json.dumps({"user_id": "u", "destination": padding}).encode()
    assert_error(stack.call("POST", "/request-token", raw=raw), 413, "payload_too_large")


def test_a_repeated_idempotency_key_replays_and_a_changed_body_is_refused(stack: Stack) -> None:
    user, phone = user_id(), phone_number()
    key = {"Idempotency-Key": f"key-{user}"}
    body = {"user_id": user, "destination": phone}
    first = stack.call("POST", "/request-token", body, headers=key)
    again = stack.call("POST", "/request-token", body, headers=key)
    assert (first.status, again.status) == (202, 202)
    assert again.headers.get("Idempotent-Replayed") == "true"
    # A replay counts its times down to now, so a second boundary between the calls may show.
    counted_down = ("expires_in", "resend_after")
    assert {k: v for k, v in again.body.items() if k not in counted_down} == {
        k: v for k, v in first.body.items() if k not in counted_down
    }
    for name in counted_down:
        assert first.body[name] - 2 <= again.body[name] <= first.body[name]
    assert len(stack.messages_to(phone)) == 1
    changed = {"user_id": user, "destination": phone_number()}
    assert_error(
        stack.call("POST", "/request-token", changed, headers=key), 422, "idempotency_key_reused"
    )


def test_a_second_request_within_the_cooldown_is_rate_limited(stack: Stack) -> None:
    user, phone = user_id(), phone_number()
    assert stack.request(user, phone).status == 202
    reply = stack.request(user, phone)
    body = assert_error(reply, 429, "rate_limited")
    retry_after = body["error"]["retry_after"]
    assert 1 <= retry_after <= 30
    assert reply.headers["Retry-After"] == str(retry_after)
    assert len(stack.messages_to(phone)) == 1


def test_a_rejected_sms_is_delivery_failed_and_leaves_no_cooldown(stack: Stack) -> None:
    user, phone = user_id(), phone_number()
    stack.fail("sns.Publish", "InvalidParameter")
    assert_error(stack.request(user, phone), 502, "delivery_failed")
    assert stack.messages_to(phone) == []
    stack.heal()
    assert stack.request(user, phone).status == 202


def test_a_throttled_table_makes_request_and_verify_unavailable(stack: Stack) -> None:
    user = user_id()
    stack.fail("dynamodb.TransactWriteItems", "ThrottlingException")
    stack.fail("dynamodb.UpdateItem", "ThrottlingException")
    for reply in (stack.request(user, phone_number()), stack.verify(user, "123456")):
        assert_error(reply, 503, "service_unavailable")
        assert int(reply.headers["Retry-After"]) >= 1


def test_a_wrong_code_and_no_code_answer_identically(stack: Stack) -> None:
    known, phone = user_id(), phone_number()
    assert stack.request(known, phone).status == 202
    wrong = "000000" if stack.last_code(phone) != "000000" else "111111"
    for_known = stack.verify(known, wrong)
    for_unknown = stack.verify(user_id("nobody"), wrong)
    assert for_known.status == for_unknown.status == 400
    assert for_known.body == for_unknown.body
    assert for_known.body["verified"] is False
    assert for_known.body["error"]["code"] == "invalid_code"


def test_a_malformed_code_is_invalid_request_and_no_attempt(stack: Stack) -> None:
    user, phone = user_id(), phone_number()
    assert stack.request(user, phone).status == 202
    for bad in ("12345", "1234567", "12a456"):
        assert_error(stack.verify(user, bad), 400, "invalid_request")
    for _ in range(5):
        stack.verify(user, "12345")
    assert stack.verify(user, stack.last_code(phone)).status == 200


def test_five_wrong_codes_lock_the_user_out_and_burn_the_code(stack: Stack) -> None:
    user, phone = user_id(), phone_number()
    assert stack.request(user, phone).status == 202
    code = stack.last_code(phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        assert_error(stack.verify(user, wrong), 400, "invalid_code")
    locked = stack.verify(user, wrong)
    body = assert_error(locked, 429, "too_many_attempts")
    assert body["verified"] is False
    assert locked.headers["Retry-After"] == str(body["error"]["retry_after"])
    assert_error(stack.verify(user, code), 429, "too_many_attempts")


def test_cancel_burns_the_pending_code_and_is_idempotent(stack: Stack) -> None:
    user, phone = user_id(), phone_number()
    assert stack.request(user, phone).status == 202
    first, second = stack.cancel(user), stack.cancel(user)
    assert (
        (first.status, first.body) == (second.status, second.body) == (200, {"status": "canceled"})
    )
    assert_error(stack.verify(user, stack.last_code(phone)), 400, "invalid_code")
    assert_error(stack.call("POST", "/cancel-token", {"user_id": ""}), 400, "invalid_request")


def test_twenty_parallel_verifies_of_one_code_approve_exactly_once(stack: Stack) -> None:
    user, phone = user_id(), phone_number()
    assert stack.request(user, phone).status == 202
    code = stack.last_code(phone)
    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(lambda _: stack.verify(user, code), range(20)))
    statuses = sorted(reply.status for reply in replies)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 400, 429}


def test_unknown_paths_and_methods_get_api_gateways_403_in_the_contract_s_shape(
    stack: Stack,
) -> None:
    for method, path in (("POST", "/nope"), ("GET", "/request-token"), ("POST", "/")):
        reply = stack.call(method, path)
        assert reply.status == 403
        assert reply.body["error"]["code"] == "forbidden"
        assert "Missing authentication" in reply.body["error"]["message"]


def test_the_outbox_lists_oldest_first_and_can_be_emptied(stack: Stack) -> None:
    first, second = phone_number(), phone_number()
    assert stack.request(user_id(), first).status == 202
    assert stack.request(user_id(), second).status == 202
    destinations = [m["destination"] for m in stack.outbox()]
    assert destinations.index(first) < destinations.index(second)
    for message in stack.outbox():
        extra = {"subject", "sender"} if message["channel"] == "email" else set()
        assert set(message) == {"channel", "destination", "body", "sent_at"} | extra
    assert stack.call("DELETE", "/_local/outbox").status == 200
    assert stack.outbox() == []


def test_health_answers_ok(stack: Stack) -> None:
    reply = stack.call("GET", "/_local/health")
    assert (reply.status, reply.body) == (200, {"status": "ok"})


def test_the_route_table_names_each_routes_function_and_handler(stack: Stack) -> None:
    for route in ("request-token", "verify-token", "cancel-token"):
        handler = f"handlers.{route.replace('-', '_')}.handler"
        stack.process.wait_for_line(rf"^\s+POST\s+/{route}\s+otp-{route}-fn-\S+\s+{handler}$")
