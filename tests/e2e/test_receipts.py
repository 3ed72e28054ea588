"""Simulated delivery receipts over HTTP on otp-local: wired from the program, delivered on the
local clock, visible in `GET /verifications/{id}` and `GET /_local/events`.

The tests move the local clock past the receipt's delay instead of sleeping through it, then
wait for the event with a deadline (receipts and events arrive asynchronously, as in the cloud).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from otp_service.local.receipts import FAILING_DESTINATIONS, RECEIPT_DELAY_SECONDS
from tests.e2e.test_lifecycle import events_of
from tests.support.local_stack import Stack, phone_number, started, user_id

FAILING_NUMBER = "+12065550199"
BOUNCING_ADDRESS = "bounce@simulator.amazonses.com"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    yield from started()


def receipt_of(stack: Stack, verification_id: str) -> tuple[str, dict[str, object]]:
    """The receipt's event type, once the clock passed its delay, and the status route's view."""
    stack.advance_clock(RECEIPT_DELAY_SECONDS)
    events = events_of(stack, verification_id, 2, receipts=True)
    assert [e["type"] for e in events][:1] == ["verification.pending"]
    assert len(events) == 2, events
    status = stack.call("GET", f"/verifications/{verification_id}")
    assert status.status == 200
    return str(events[1]["type"]), status.body


def test_the_documented_failing_destinations_are_the_ones_named_here() -> None:
    assert {FAILING_NUMBER, BOUNCING_ADDRESS} == FAILING_DESTINATIONS


def test_an_sms_gets_a_delivered_receipt_shortly_after_its_send(stack: Stack) -> None:
    phone = phone_number()
    verification_id = stack.request(user_id("rcpt"), phone).body["verification_id"]
    kind, status = receipt_of(stack, verification_id)
    assert kind == "verification.delivered"
    assert (status["status"], status["delivery"]) == ("pending", "delivered")


def test_an_email_gets_a_delivered_receipt(stack: Stack) -> None:
    reply = stack.request(user_id("rcpt"), "carol@example.org", channel="email")
    kind, status = receipt_of(stack, reply.body["verification_id"])
    assert kind == "verification.delivered"
    assert status["delivery"] == "delivered"


def test_the_failing_number_gets_a_failure_receipt_and_its_code_still_works(stack: Stack) -> None:
    user = user_id("rcpt")
    verification_id = stack.request(user, FAILING_NUMBER).body["verification_id"]
    kind, status = receipt_of(stack, verification_id)
    assert kind == "verification.delivery_failed"
    assert (status["status"], status["delivery"]) == ("pending", "failed")
    assert stack.verify(user, stack.last_code(FAILING_NUMBER)).status == 200
    approved = stack.call("GET", f"/verifications/{verification_id}").body
    assert (approved["status"], approved["delivery"]) == ("approved", "failed")


def test_the_bouncing_address_gets_a_failure_receipt(stack: Stack) -> None:
    reply = stack.request(user_id("rcpt"), BOUNCING_ADDRESS, channel="email")
    kind, status = receipt_of(stack, reply.body["verification_id"])
    assert kind == "verification.delivery_failed"
    assert status["delivery"] == "failed"


def test_a_test_destination_sends_nothing_and_so_gets_no_receipt(stack: Stack) -> None:
    verification_id = stack.request(user_id("rcpt"), "+15555550100").body["verification_id"]
    stack.advance_clock(RECEIPT_DELAY_SECONDS)
    # The receipt of a real send made after it arrives; this one's never does.
    later = stack.request(user_id("rcpt"), phone_number()).body["verification_id"]
    receipt_of(stack, later)
    events = events_of(stack, verification_id, 1, receipts=True)
    assert [e["type"] for e in events] == ["verification.pending"]
    assert stack.call("GET", f"/verifications/{verification_id}").body["delivery"] == "sent"
