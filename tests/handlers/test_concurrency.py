"""Single use and the cooldown hold when many calls race for the same user."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.support.moto_service import Service


def test_twenty_concurrent_verifies_of_one_code_approve_exactly_once(service: Service) -> None:
    service.request()
    code = service.last_code()
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda _: service.verify(code).status, range(20)))
    assert statuses.count(200) == 1
    # The losers count as failed attempts, so the later ones meet the lockout.
    assert set(statuses) - {200} <= {400, 429}


def test_twenty_concurrent_requests_for_one_user_send_exactly_once(service: Service) -> None:
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda _: service.request().status, range(20)))
    assert sorted(statuses) == [202] + [429] * 19
    assert len(service.sms()) == 1


def test_concurrent_retries_with_one_idempotency_key_send_once(service: Service) -> None:
    headers = {"Idempotency-Key": "checkout-7"}
    with ThreadPoolExecutor(max_workers=10) as pool:
        replies = list(pool.map(lambda _: service.request(headers=headers), range(10)))
    assert len(service.sms()) == 1
    accepted = [r.body for r in replies if r.status == 202]
    assert accepted and all(body == accepted[0] for body in accepted)
    assert {r.status for r in replies} <= {202, 429}
