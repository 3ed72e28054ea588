"""User enumeration: a user with a pending code and an unknown one are indistinguishable."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest

from otp_service.handlers.settings import Policy
from tests.support.moto_service import Reply, Service

from .attack import wrong

Step = tuple[int, dict[str, object], dict[str, str], list[str]]


def _observe(service: Service, call: Callable[[], Reply]) -> Step:
    """What a caller (and a timing observer counting AWS round trips) sees of one call."""
    before = len(service.calls)
    reply = call()
    return reply.status, reply.body, reply.headers, service.calls[before:]


def _probe(service: Service, user_id: str, guess: str, attempts: int) -> list[Step]:
    steps = [_observe(service, lambda: service.verify(guess, user_id)) for _ in range(attempts)]
    steps.append(_observe(service, lambda: service.cancel(user_id)))
    steps.append(_observe(service, lambda: service.verify(guess, user_id)))
    return steps


@pytest.mark.parametrize("policy", [Policy(), Policy(max_verify_attempts=3, code_length=8)])
def test_a_known_user_and_an_unknown_one_answer_identically_at_every_step(
    service: Service, policy: Policy
) -> None:
    """Wrong guesses through the lockout and past it, then cancel: same answers, same AWS calls."""
    service.request(user_id="known")
    guess = wrong(service.last_code())
    service.clock.advance(30)
    attempts = policy.max_verify_attempts + 2
    known = _probe(service, "known", guess, attempts)
    unknown = _probe(service, "unknown", guess, attempts)
    assert known == unknown
    statuses = [step[0] for step in known]
    n = policy.max_verify_attempts
    assert statuses == [400] * (n - 1) + [429] * 3 + [200, 429]


def test_an_expired_or_used_code_answers_like_no_code_at_all(service: Service) -> None:
    service.request(user_id="used")
    used_code = service.last_code()
    service.verify(used_code, "used")
    service.request(user_id="expired", destination="+14155550124")
    expired_code = service.last_code()
    service.clock.advance(301)
    used = _observe(service, lambda: service.verify(used_code, "used"))
    expired = _observe(service, lambda: service.verify(expired_code, "expired"))
    missing = _observe(service, lambda: service.verify(used_code, "never-seen"))
    assert used == expired == missing
    assert used[0] == 400


def test_cancel_answers_and_calls_the_same_with_or_without_a_code(service: Service) -> None:
    service.request(user_id="known")
    known = _observe(service, lambda: service.cancel("known"))
    unknown = _observe(service, lambda: service.cancel("unknown"))
    assert known == unknown == (200, {"status": "canceled"}, known[2], ["dynamodb.UpdateItem"])


def test_a_locked_out_user_and_an_unknown_one_stay_alike_across_windows(service: Service) -> None:
    """Issue 11, defect 1: attempts are counted in fixed windows, the same for every user.

    Both are locked out, then probed every minute for three hours: the known user's request
    (mid-window) must not anchor a window of its own, so answers and AWS calls stay equal.
    """
    window = service.settings.policy.send_window_seconds
    service.clock.now = window * 500_000 + window // 2
    service.request(user_id="known")
    guess = wrong(service.last_code())
    service.clock.advance(600)
    seen: dict[str, list[Step]] = {"known": [], "unknown": []}
    for minute in range(180):
        for user_id, steps in seen.items():
            for _ in range(6 if minute == 0 else 1):
                steps.append(_observe(service, partial(service.verify, guess, user_id)))
        service.clock.advance(60)
    assert seen["known"] == seen["unknown"]
    statuses = [step[0] for step in seen["known"]]
    assert statuses[:6] == [400] * 4 + [429] * 2
    assert 400 in statuses[6:] and 429 in statuses[6:]
    assert {tuple(step[3]) for step in seen["known"]} == {("dynamodb.UpdateItem",)}


def test_across_a_key_rotation_and_two_windows_a_seen_user_looks_unseen(service: Service) -> None:
    """Issue 11, defects 1 and 5: a user whose code predates a MAC-key rotation, probed from a
    fresh container an hour later, costs the same calls and gets the same answers as a user
    never seen. (Verify used to derive the old key's subkey only for a user whose code named it.)
    """
    window = service.settings.policy.send_window_seconds
    service.clock.now = window * 500_000 + window - 120
    service.request(user_id="seen")
    guess = wrong(service.last_code())
    service.verify(guess, "seen")
    service.rotate_mac_key()
    seen: dict[str, list[Step]] = {"seen": [], "unseen": []}
    for user_id, steps in seen.items():
        service.cold_start()  # each probe series starts where no subkey is derived yet
        steps.append(_observe(service, partial(service.verify, guess, user_id)))
    service.clock.advance(window)
    for _ in range(7):
        for user_id, steps in seen.items():
            steps.append(_observe(service, partial(service.verify, guess, user_id)))
        service.clock.advance(2)
    assert seen["seen"] == seen["unseen"]
    assert seen["seen"][0][3] == ["kms.GenerateMac", "kms.GenerateMac", "dynamodb.UpdateItem"]
    assert [step[0] for step in seen["seen"][1:]] == [400] * 4 + [429] * 3


def test_an_approved_user_and_an_unknown_one_stay_alike_when_probed(service: Service) -> None:
    """After a code is used, guesses find what they find for a user who never had one: the
    attempt that used the code is no failure, and takes none of the guesses' room."""
    service.request(user_id="approved")
    code = service.last_code()
    assert service.verify(code, "approved").status == 200
    guess = wrong(code)
    seen: dict[str, list[Step]] = {"approved": [], "unknown": []}
    for _ in range(7):
        for user_id, steps in seen.items():
            steps.append(_observe(service, partial(service.verify, guess, user_id)))
        service.clock.advance(2)  # a lockout's retry_after would show a different 5th failure
    assert seen["approved"] == seen["unknown"]
    assert [step[0] for step in seen["approved"]] == [400] * 4 + [429] * 3
