"""Replay, double spend and cooldown bypass across threads, and Idempotency-Key retries."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.support.moto_service import Reply, Service

from .attack import wrong


def test_an_approved_code_replayed_answers_exactly_like_a_wrong_one(service: Service) -> None:
    service.request(user_id="a")
    code = service.last_code()
    assert service.verify(code, "a").status == 200
    replayed = service.verify(code, "a")
    service.request(user_id="b", destination="+14155550124")
    guessed = service.verify(wrong(service.last_code()), "b")
    assert (replayed.status, replayed.body, replayed.headers) == (
        guessed.status,
        guessed.body,
        guessed.headers,
    )
    assert replayed.body["error"]["code"] == "invalid_code"


def test_a_code_replayed_for_another_user_fails(service: Service) -> None:
    service.request(user_id="a")
    assert service.verify(service.last_code(), "b").status == 400
    assert service.verify(service.last_code(), "a").status == 200


def test_a_replaced_or_canceled_code_never_verifies(service: Service) -> None:
    service.request()
    first = service.last_code()
    service.clock.advance(30)
    service.request()
    second = service.last_code()
    service.cancel()
    assert [service.verify(c).status for c in {first, second}] == [400] * len({first, second})


def test_ten_users_racing_ten_verifies_each_approve_once_per_user(service: Service) -> None:
    users = [f"racer-{n}" for n in range(10)]
    codes = {}
    for n, user in enumerate(users):
        service.request(user_id=user, destination=f"+1415555{n + 200:04d}")
        codes[user] = service.last_code()
    jobs = [user for user in users for _ in range(10)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(lambda u: (u, service.verify(codes[u], u).status), jobs))
    for user in users:
        assert [s for u, s in replies if u == user].count(200) == 1
    assert {s for _, s in replies} <= {200, 400, 429}


def test_concurrent_requests_to_many_numbers_for_one_user_send_once(service: Service) -> None:
    """The cooldown holds under a burst of 20 requests, each to a different number."""
    numbers = [f"+1415555{n + 300:04d}" for n in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(
            pool.map(lambda d: service.request(user_id="burst", destination=d).status, numbers)
        )
    assert sorted(statuses) == [202] + [429] * 19
    assert len(service.sms()) == 1


def test_concurrent_requests_to_one_number_from_many_users_send_five(service: Service) -> None:
    """The per-destination limit holds under a burst of 20 user ids racing for one number."""
    service.clock.now = 3600 * 500_000 + 1
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda n: service.request(user_id=f"u{n}").status, range(20)))
    assert sorted(statuses) == [202] * 5 + [429] * 15
    assert len(service.sms()) == 5


def test_idempotent_retries_within_ten_minutes_send_once_and_mint_no_new_code(
    service: Service,
) -> None:
    headers = {"Idempotency-Key": "signup-1"}
    replies: list[Reply] = []
    for _ in range(4):
        replies.append(service.request(headers=headers))
        service.clock.advance(60)
    assert service.verify(service.last_code()).status == 200
    service.clock.advance(599 - 240)
    replies.append(service.request(headers=headers))
    assert len(service.sms()) == 1
    timeless = {"expires_in", "resend_after"}  # counted down to each replay's time
    first = {k: v for k, v in replies[0].body.items() if k not in timeless}
    assert all(r.status == replies[0].status for r in replies)
    assert all({k: v for k, v in r.body.items() if k not in timeless} == first for r in replies)
    assert all(r.headers.get("Idempotent-Replayed") == "true" for r in replies[1:])


def test_idempotent_retries_after_a_rejected_send_are_sent_once_it_works(
    service: Service,
) -> None:
    headers = {"Idempotency-Key": "signup-2"}
    service.fail("sns.Publish", "InvalidParameter")
    assert [service.request(headers=headers).status for _ in range(3)] == [502] * 3
    service.heal()
    assert [service.request(headers=headers).status for _ in range(3)] == [202] * 3
    assert len(service.sms()) == 1


def test_an_idempotency_key_cannot_fetch_another_user_s_answer(service: Service) -> None:
    service.request(user_id="alice", headers={"Idempotency-Key": "shared"})
    reply = service.request(user_id="mallory", headers={"Idempotency-Key": "shared"})
    assert (reply.status, reply.body["error"]["code"]) == (422, "idempotency_key_reused")
    assert "destination" not in reply.body
    assert len(service.sms()) == 1
