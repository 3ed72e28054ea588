"""Verify in exactly one DynamoDB request for every outcome, and no other AWS call when warm."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from otp_service.handlers.attempts import ATTEMPTS
from otp_service.handlers.table import PARTITION_KEY
from tests.support.moto_service import Reply, Service

ONE_WRITE = ["dynamodb.UpdateItem"]


def _wrong(code: str, offset: int = 1) -> str:
    return f"{(int(code) + offset) % 10 ** len(code):0{len(code)}d}"


def _verify_calls(service: Service, code: str, user_id: str = "alice") -> tuple[int, list[str]]:
    before = len(service.calls)
    reply = service.verify(code, user_id)
    return reply.status, service.calls[before:]


def test_every_verify_outcome_is_one_dynamodb_request(service: Service) -> None:
    service.verify("000000", user_id="warm-up")  # the container's one KMS call
    service.request()
    code = service.last_code()
    outcomes = {
        "wrong": _verify_calls(service, _wrong(code)),
        "right": _verify_calls(service, code),
        "replayed": _verify_calls(service, code),
        "unknown user": _verify_calls(service, code, "nobody"),
    }
    service.clock.advance(30)
    service.request()
    service.clock.advance(300)
    outcomes["expired"] = _verify_calls(service, service.last_code())
    service.request(user_id="bob", destination="+14155550124")
    bobs = service.last_code()
    for k in range(1, 6):
        service.verify(_wrong(bobs, k), "bob")
    outcomes["locked out"] = _verify_calls(service, bobs, "bob")
    assert {name: status for name, (status, _) in outcomes.items()} == {
        "wrong": 400,
        "right": 200,
        "replayed": 400,
        "unknown user": 400,
        "expired": 400,
        "locked out": 429,
    }
    assert {name: calls for name, (_, calls) in outcomes.items()} == dict.fromkeys(
        outcomes, ONE_WRITE
    )


def test_racing_guesses_make_one_request_each_and_at_most_five_are_compared(
    service: Service,
) -> None:
    """20 guesses race, the right one among them: 20 writes, at most 1 approved, and at most
    5 answers that are not a lockout."""
    service.verify("000000", user_id="warm-up")
    service.request()
    code = service.last_code()
    guesses = [_wrong(code, k) for k in range(1, 20)] + [code]
    before = len(service.calls)
    with ThreadPoolExecutor(max_workers=20) as pool:
        replies: list[Reply] = list(pool.map(service.verify, guesses))
    assert service.calls[before:] == ONE_WRITE * 20
    [user] = [i for i in service.items() if i[PARTITION_KEY]["S"] == "user#alice"]
    assert len(user[ATTEMPTS]["L"]) == 11, "2 x maxVerifyAttempts + 1 recorded, then refused"
    statuses = [r.status for r in replies]
    assert statuses.count(200) <= 1
    assert set(statuses) <= {200, 400, 429}
    assert statuses.count(400) + statuses.count(200) <= 5


def test_a_right_code_racing_itself_is_accepted_once_in_one_request_each(
    service: Service,
) -> None:
    service.verify("000000", user_id="warm-up")
    service.request()
    code = service.last_code()
    before = len(service.calls)
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(lambda _: service.verify(code).status, range(10)))
    assert service.calls[before:] == ONE_WRITE * 10
    assert statuses.count(200) == 1
