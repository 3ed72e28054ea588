"""Guessing codes: lockout at exactly `maxVerifyAttempts`, and bounded guesses per window."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from otp_service.handlers.attempts import ATTEMPTS
from otp_service.handlers.settings import Policy
from otp_service.handlers.table import PARTITION_KEY
from tests.support.moto_service import Reply, Service

from .attack import RaceGate, wrong

WINDOW = 3600


@pytest.mark.parametrize(
    "policy", [Policy(max_verify_attempts=n) for n in (1, 3, 5, 10)], ids=["1", "3", "5", "10"]
)
def test_the_lockout_comes_exactly_at_max_verify_attempts_and_burns_the_code(
    service: Service, policy: Policy
) -> None:
    service.request()
    code = service.last_code()
    n = policy.max_verify_attempts
    statuses = [service.verify(wrong(code, k)).status for k in range(1, n + 1)]
    assert statuses == [400] * (n - 1) + [429]
    # The 429s alone would follow from the window's count; the code itself must be dead: its
    # attempts are used up, so no later guess is compared with it, in this window or after.
    burned = service.verify(code)
    assert (burned.status, burned.body["error"]["code"]) == (429, "too_many_attempts")
    service.clock.now = (service.clock.now // WINDOW + 1) * WINDOW
    # A fresh window's count, but the code stays dead: the right code is its first failure.
    assert service.verify(code).status == (429 if n == 1 else 400)
    [user] = [item for item in service.items() if item[PARTITION_KEY]["S"] == "user#alice"]
    assert len(user[ATTEMPTS]["L"]) == n + 2, "every attempt is recorded while there is room"


def test_the_right_code_after_max_minus_one_failures_is_still_accepted(service: Service) -> None:
    service.request()
    code = service.last_code()
    assert [service.verify(wrong(code, k)).status for k in range(1, 5)] == [400] * 4
    assert service.verify(code).status == 200


def _guess_until_locked(service: Service, user_id: str) -> int:
    """Spend every guess the current code allows; return how many were answered."""
    code = service.last_code()
    for guesses in range(1, 100):
        reply = service.verify(wrong(code, guesses), user_id=user_id)
        assert reply.status != 200
        if reply.status == 429:
            return guesses
    raise AssertionError("never locked out")


def test_guesses_per_window_are_bounded_by_sends_times_attempts(service: Service) -> None:
    """5 sends x 5 attempts: an attacker gets exactly 25 guesses in one send window."""
    service.clock.now = WINDOW * 500_000 + 1
    guesses = sends = 0
    while True:
        reply = service.request(user_id="victim")
        if reply.status == 429:
            break
        assert reply.status == 202
        sends += 1
        guesses += _guess_until_locked(service, "victim")
        service.clock.advance(30)
    assert (sends, guesses) == (5, 25)
    assert reply.body["error"]["retry_after"] == WINDOW * 500_001 - int(service.clock.now)
    # Locked out and out of sends: further guesses are answered 429 without a code to hit.
    assert service.verify("000000", user_id="victim").status == 429


def test_a_window_boundary_allows_at_most_twice_the_guesses(service: Service) -> None:
    """The residual risk of fixed windows, in numbers: at most 10 sends and 50 guesses."""
    start = WINDOW * 500_000 + WINDOW - 5 * 30 - 1
    service.clock.now = start
    guesses = sends = 0
    for _ in range(20):
        reply = service.request(user_id="victim")
        if reply.status == 202:
            sends += 1
            guesses += _guess_until_locked(service, "victim")
        service.clock.advance(30)
    assert service.clock.now - start == 600
    assert (sends, guesses) == (10, 50)


def test_racing_guesses_are_counted_before_any_is_checked(service: Service) -> None:
    """19 wrong guesses and the right one race; the 20th arrives after 19 counted attempts.

    If a guess were checked before it was counted, all 20 would be checked against a code with
    no failed attempts yet, and the right one would win: 20 guesses for a 5-attempt code.
    """
    gate = RaceGate(service, early=19)
    service.request()
    code = service.last_code()

    def guess(k: int) -> Reply:
        gate.enter("late" if k == 0 else "early")
        try:
            return service.verify(code if k == 0 else wrong(code, k))
        finally:
            gate.leave()

    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            replies = list(pool.map(guess, range(20)))
    finally:
        gate.close()
    assert gate.updates >= 20, "the gate saw no writes"
    assert [r.status for r in replies].count(200) == 0
    assert gate.compared <= 5
    assert replies[0].status == 429


def test_concurrent_guesses_never_check_more_than_max_attempts(service: Service) -> None:
    """25 verifies of the right code race: each is one write, at most 5 could win, 1 does.

    The writes' own answers (the item before each) say which guesses could still win; with the
    attempt limit gone from the write's condition all 25 would be recorded and compared.
    """
    gate = RaceGate(service, early=25, late=False)
    service.request()
    code = service.last_code()

    def guess(_: int) -> int:
        gate.enter("early")
        return service.verify(code).status

    try:
        with ThreadPoolExecutor(max_workers=25) as pool:
            statuses = list(pool.map(guess, range(25)))
    finally:
        gate.close()
    assert gate.updates >= 25, "the gate saw no writes"
    assert 1 <= gate.compared <= 5
    [user] = [item for item in service.items() if item[PARTITION_KEY]["S"] == "user#alice"]
    assert len(user[ATTEMPTS]["L"]) == 11, "a code records 2 x maxVerifyAttempts + 1 attempts"
    assert statuses.count(200) == 1
    assert set(statuses) <= {200, 400, 429}
