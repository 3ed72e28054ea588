"""Verification lifecycle over HTTP on otp-local: the status route and the published events.

Events come from the stream poller asynchronously, as they do from Lambda in the cloud, so the
tests wait for a condition (with a deadline), never for a fixed time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.local_stack import Stack, phone_number, started, user_id

DEADLINE_SECONDS = 20.0


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    yield from started()


def events_of(
    stack: Stack, verification_id: str, count: int, *, receipts: bool = False
) -> list[dict[str, Any]]:
    """The events of one verification, once `count` of them have been published.

    Without `receipts`, the `verification.delivered` receipt otp-local simulates 2 s (local
    clock) after each send is left out: it arrives whenever the clock gets there.
    """
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        reply = stack.call("GET", "/_local/events")
        assert reply.status == 200
        found = [
            e
            for e in reply.body["events"]
            if e["verification_id"] == verification_id
            and (receipts or e["type"] != "verification.delivered")
        ]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_status_and_events_follow_a_verification_from_pending_to_approved(stack: Stack) -> None:
    user, phone = user_id("life"), phone_number()
    requested = stack.request(user, phone)
    assert requested.status == 202
    vf = requested.body["verification_id"]
    status = stack.call("GET", f"/verifications/{vf}")
    assert status.status == 200
    assert status.body["status"] == "pending"
    assert status.body["destination"] == requested.body["destination"]
    assert stack.verify(user, stack.last_code(phone)).status == 200
    assert stack.call("GET", f"/verifications/{vf}").body["status"] == "approved"
    pending, approved = events_of(stack, vf, 2)
    assert (pending["type"], approved["type"]) == ("verification.pending", "verification.approved")
    assert pending["event_id"] != approved["event_id"]
    assert approved["user_id"] == user
    assert approved["destination"] == requested.body["destination"]
    assert phone not in str(approved)


def test_a_superseded_and_a_canceled_verification_are_published(stack: Stack) -> None:
    user = user_id("life")
    first = stack.request(user, phone_number()).body["verification_id"]
    stack.advance_clock(31)
    second = stack.request(user, phone_number()).body["verification_id"]
    assert stack.cancel(user).status == 200
    assert [e["type"] for e in events_of(stack, first, 2)] == [
        "verification.pending",
        "verification.superseded",
    ]
    assert [e["type"] for e in events_of(stack, second, 2)] == [
        "verification.pending",
        "verification.canceled",
    ]
    assert stack.call("GET", f"/verifications/{first}").body["status"] == "superseded"
    assert stack.call("GET", f"/verifications/{second}").body["status"] == "canceled"


def test_unknown_and_malformed_ids_answer_the_same_404(stack: Stack) -> None:
    unknown = stack.call("GET", "/verifications/vf_" + "a" * 32)
    malformed = stack.call("GET", "/verifications/not-an-id")
    assert unknown.status == malformed.status == 404
    assert unknown.body == malformed.body
    assert unknown.body["error"]["code"] == "not_found"
