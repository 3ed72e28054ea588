"""Expiry, cooldown, send limits and lockout recovery, on otp-local's local-only clock.

`POST /_local/clock` moves the handlers' clock forward, so these tests reach every deadline
without sleeping. The policy comes from `-c` overrides, as `pulumi config set` would set it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.local_stack import Stack, phone_number, started, user_id

TTL = 30
COOLDOWN = 30
WINDOW = 3600
REAL_TIME_SLACK = 5
"""Seconds of real time a test may take between two steps without changing its outcome."""


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    yield from started(
        "-c",
        f"codeTtlSeconds={TTL}",
        "-c",
        "codeLength=8",
        # Pulumi.dev.yaml's test destination has a 6-digit code, which codeLength 8 refuses.
        "-c",
        'testDestinations={"+15555550100": "12345678"}',
    )


def test_config_overrides_reach_the_handlers(stack: Stack) -> None:
    user, phone = user_id(), phone_number()
    reply = stack.request(user, phone)
    assert (reply.status, reply.body["expires_in"]) == (202, TTL)
    assert len(stack.last_code(phone)) == 8
    assert "30 seconds" in stack.messages_to(phone)[-1]["body"]


def test_a_code_verifies_within_its_ttl_and_not_after_it(stack: Stack) -> None:
    early, late = user_id(), user_id()
    early_phone, late_phone = phone_number(), phone_number()
    assert stack.request(early, early_phone).status == 202
    assert stack.request(late, late_phone).status == 202
    # Real time keeps running under the offset, so stay clear of the boundary on this side.
    stack.advance_clock(TTL - REAL_TIME_SLACK)
    assert stack.verify(early, stack.last_code(early_phone)).status == 200
    stack.advance_clock(REAL_TIME_SLACK)
    expired = stack.verify(late, stack.last_code(late_phone))
    assert (expired.status, expired.body["error"]["code"]) == (400, "invalid_code")


def test_after_the_cooldown_a_new_code_replaces_the_old_one(stack: Stack) -> None:
    user, phone = user_id(), phone_number()
    assert stack.request(user, phone).status == 202
    old = stack.last_code(phone)
    assert stack.request(user, phone).status == 429
    stack.advance_clock(COOLDOWN)
    assert stack.request(user, phone).status == 202
    new = stack.last_code(phone)
    if new != old:
        assert stack.verify(user, old).status == 400
    assert stack.verify(user, new).status == 200


def test_the_sixth_send_in_a_window_is_refused_until_the_window_ends(stack: Stack) -> None:
    stack.advance_clock(WINDOW - stack.now() % WINDOW + 1)  # start of a fresh send window
    user, phone = user_id(), phone_number()
    for _ in range(5):
        assert stack.request(user, phone).status == 202
        stack.advance_clock(COOLDOWN)
    refused = stack.request(user, phone)
    assert (refused.status, refused.body["error"]["code"]) == (429, "rate_limited")
    retry_after = refused.body["error"]["retry_after"]
    assert WINDOW - 5 * COOLDOWN - REAL_TIME_SLACK <= retry_after <= WINDOW - 5 * COOLDOWN
    assert len(stack.messages_to(phone)) == 5
    stack.advance_clock(retry_after)
    assert stack.request(user, phone).status == 202


def test_a_locked_out_user_can_request_a_fresh_code_after_retry_after(stack: Stack) -> None:
    user, phone = user_id(), phone_number()
    assert stack.request(user, phone).status == 202
    wrong = f"{(int(stack.last_code(phone)) + 1) % 10**8:08d}"
    replies = [stack.verify(user, wrong) for _ in range(5)]
    assert [r.status for r in replies] == [400, 400, 400, 400, 429]
    retry_after = replies[-1].body["error"]["retry_after"]
    assert stack.request(user, phone).status == 429
    stack.advance_clock(retry_after)
    assert stack.request(user, phone).status == 202
    assert stack.verify(user, stack.last_code(phone)).status == 200


def test_the_clock_only_moves_forward(stack: Stack) -> None:
    reply = stack.call("POST", "/_local/clock", {"advance_seconds": -1})
    assert reply.status == 400
