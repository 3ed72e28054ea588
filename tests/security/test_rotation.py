"""A MAC-key rotation changes how codes are MACed, and nothing a caller or a pumper can see."""

from __future__ import annotations

from tests.support.moto_service import Service

WINDOW = 3600


def _rotate(service: Service) -> None:
    service.rotate_mac_key()
    service.cold_start()


def test_a_rotation_does_not_reset_the_per_destination_limit(service: Service) -> None:
    """Defect 4: 3 sends before and 5 tries after a rotation reach one number 5 times."""
    service.clock.now = WINDOW * 500_000 + 1
    before = [service.request(user_id=f"pump-{n}").status for n in range(3)]
    _rotate(service)
    after = [service.request(user_id=f"pump-{n}").status for n in range(3, 8)]
    assert before + after == [202] * 5 + [429] * 3
    assert len(service.sms()) == 5


def test_a_rotation_does_not_reset_the_per_user_limit(service: Service) -> None:
    service.clock.now = WINDOW * 500_000 + 1
    numbers = [f"+1415555{n:04d}" for n in range(8)]
    statuses = []
    for n, number in enumerate(numbers):
        if n == 3:
            _rotate(service)
        statuses.append(service.request(destination=number).status)
        service.clock.advance(30)
    assert statuses == [202] * 5 + [429] * 3


def test_an_idempotent_retry_across_a_rotation_replays_the_first_answer(service: Service) -> None:
    """Defect 4: the same key and body after a rotation is the first answer, not a 422."""
    key = {"Idempotency-Key": "across-rotation"}
    first = service.request(headers=key)
    assert first.status == 202
    _rotate(service)
    service.clock.advance(60)
    retried = service.request(headers=key)
    assert (retried.status, retried.headers.get("Idempotent-Replayed")) == (202, "true")
    assert retried.body == {**first.body, "expires_in": 240, "resend_after": 0}
    assert len(service.sms()) == 1
    other_body = service.request(headers=key, destination="+14155550124")
    assert other_body.status == 422
