"""Faults: provider rejections, throttling, conditional-check storms, key-source outages, slowness.

Each ends in the contract's answer; no valid code is left after a failed delivery; nothing is
sent twice; and the worst-case time of every path stays inside the function's timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError

from otp_service.components.functions import FUNCTION_TIMEOUT_SECONDS
from otp_service.handlers.container import DATA_CONFIG, SEND_CONFIG
from otp_service.handlers.settings import Policy
from otp_service.handlers.table import PARTITION_KEY
from tests.support.moto_service import Reply, Service

from .attack import is_attempt, wrong
from .contract import assert_contract_error

ROUTES = ("/request-token", "/verify-token", "/cancel-token")


def _codes_stored(service: Service) -> int:
    return sum("code_mac" in item for item in service.items())


def _sends_counted(service: Service) -> int:
    return sum(int(item.get("sends", {"N": "0"})["N"]) for item in service.items())


def _call_every_route(service: Service) -> list[Reply]:
    return [
        service.request(user_id="f"),
        service.verify("123456", user_id="f"),
        service.cancel(user_id="f"),
    ]


@pytest.mark.parametrize(
    "code", ["InvalidParameter", "InvalidParameterValue", "EndpointDisabled", "AuthorizationError"]
)
def test_an_sms_rejection_is_502_with_no_code_no_count_and_no_cooldown(
    service: Service, code: str
) -> None:
    service.fail("sns.Publish", code)
    reply = service.request()
    assert (reply.status, reply.body["error"]["code"]) == (502, "delivery_failed")
    assert (_codes_stored(service), _sends_counted(service), service.sms()) == (0, 0, [])
    service.heal()
    assert service.request().status == 202, "a failed send must not start the cooldown"


@pytest.mark.parametrize(
    "code",
    ["MessageRejected", "MailFromDomainNotVerifiedException", "AccountSendingPausedException"],
)
def test_an_email_rejection_is_502_with_no_code_left(service: Service, code: str) -> None:
    service.fail("ses.SendEmail", code)
    reply = service.request(channel="email", destination="jane@example.com")
    assert (reply.status, reply.body["error"]["code"]) == (502, "delivery_failed")
    assert (_codes_stored(service), _sends_counted(service)) == (0, 0)


@pytest.mark.parametrize(
    "fault",
    [
        ClientError({"Error": {"Code": "Throttling"}}, "Publish"),
        ClientError(
            {"Error": {"Code": "InternalError"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
            "Publish",
        ),
        ReadTimeoutError(endpoint_url="https://sns.us-east-1.amazonaws.com/"),
        ConnectTimeoutError(endpoint_url="https://sns.us-east-1.amazonaws.com/"),
    ],
    ids=["throttled", "internal-error", "read-timeout", "connect-timeout"],
)
def test_a_send_that_may_pass_is_503_and_leaves_no_code(service: Service, fault: Exception) -> None:
    service.faults.raise_on("sns.Publish", fault)
    reply = service.request()
    assert (reply.status, reply.headers["Retry-After"]) == (503, "2")
    assert_contract_error("/request-token", reply)
    assert (_codes_stored(service), _sends_counted(service), service.sms()) == (0, 0, [])
    assert service.calls.count("sns.Publish") == 1, "a send is never retried"


@pytest.mark.parametrize(
    "code", ["ProvisionedThroughputExceededException", "ThrottlingException", "InternalServerError"]
)
def test_a_table_throttling_storm_is_503_on_every_route_and_sends_nothing(
    service: Service, code: str
) -> None:
    service.request(user_id="f")
    code_sent = service.last_code()
    for operation in ("UpdateItem", "TransactWriteItems", "GetItem"):
        service.fail(f"dynamodb.{operation}", code, status=500 if "Internal" in code else 400)
    service.clock.advance(30)
    for route, reply in zip(ROUTES, _call_every_route(service), strict=True):
        assert (reply.status, reply.headers["Retry-After"]) == (503, "2")
        assert_contract_error(route, reply)
    assert len(service.sms()) == 1
    service.heal()
    assert service.verify(code_sent, user_id="f").status == 200, "the storm counted no attempt"


def test_a_conditional_check_storm_on_request_is_429_and_sends_nothing(service: Service) -> None:
    # One reason per item: code, two send counters, verification, Fraud Guard's four.
    cancelled = [{"Code": "ConditionalCheckFailed", "Item": {}}] + [{"Code": "None"}] * 7
    service.fail(
        "dynamodb.TransactWriteItems", "TransactionCanceledException", CancellationReasons=cancelled
    )
    replies = [service.request(user_id=f"u{n}") for n in range(10)]
    assert {(r.status, r.body["error"]["code"]) for r in replies} == {(429, "rate_limited")}
    assert service.sms() == []


def test_a_transaction_conflict_storm_is_429_retry_after_one_second(service: Service) -> None:
    conflict = [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * 7
    service.fail(
        "dynamodb.TransactWriteItems", "TransactionCanceledException", CancellationReasons=conflict
    )
    reply = service.request()
    assert (reply.status, reply.headers["Retry-After"]) == (429, "1")
    assert service.sms() == []


def test_a_verify_write_that_always_fails_its_condition_never_approves(service: Service) -> None:
    """Even the right code: a refused write recorded and compared nothing, so it is a failure."""
    hook = _fail_when(service, is_attempt, "ConditionalCheckFailedException")
    service.request()
    statuses = [service.verify(service.last_code()).status for _ in range(6)]
    assert hook.hits == 6
    assert statuses == [400] * 6


def test_the_key_source_down_at_cold_start_is_503_and_counts_no_attempt(service: Service) -> None:
    service.request()
    code = service.last_code()
    service.cold_start()
    service.fail("kms.GenerateMac", "KMSInternalException", status=500)
    for route, reply in zip(ROUTES[:2], _call_every_route(service)[:2], strict=True):
        assert reply.status == 503
        assert_contract_error(route, reply)
    assert [service.verify(code).status for _ in range(10)] == [503] * 10
    service.heal()
    assert service.verify(code).status == 200


def test_the_key_source_down_mid_flight_does_not_matter_once_the_subkey_exists(
    service: Service,
) -> None:
    service.request(user_id="warm")
    service.fail("kms.GenerateMac", "DisabledException")
    service.fail("kms.Decrypt", "DisabledException")
    before = len(service.calls)
    assert service.verify(service.last_code(), user_id="warm").status == 200
    service.clock.advance(30)
    assert service.request(user_id="warm").status == 202
    assert not [c for c in service.calls[before:] if c.startswith("kms.")]


def test_a_rotated_key_down_at_a_cold_start_is_503(service: Service) -> None:
    """After a rotation both functions need the previous key's subkey: a dependency, so 503."""
    service.request()
    code = service.last_code()
    service.rotate_mac_key()
    service.cold_start()
    service.fail("kms.GenerateMac", "KMSInvalidStateException")
    assert service.verify(code).status == 503
    service.heal()
    assert service.verify(code).status == 200


def test_an_undo_that_fails_after_a_rejection_still_answers_502(service: Service) -> None:
    """Residual risk, pinned: the undelivered code stays until it expires, known to no one."""
    service.fail("sns.Publish", "InvalidParameter")
    _fail_when(
        service,
        # The undo is the transaction that gives the send counters back.
        lambda params: ":minus_one" in str(params),
        "ThrottlingException",
        "TransactWriteItems",
    )
    reply = service.request()
    assert (reply.status, reply.body["error"]["code"]) == (502, "delivery_failed")
    assert service.sms() == []


class _Hook:
    hits = 0


def _fail_when(
    service: Service,
    matches: Callable[[dict[str, Any]], bool],
    code: str,
    operation: str = "UpdateItem",
) -> _Hook:
    """Fail `operation` with `code` whenever its parameters match; register before any call."""
    hook = _Hook()

    def maybe_fail(params: dict[str, Any], **_: Any) -> None:
        if matches(params):
            hook.hits += 1
            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)

    service.session.events.register(f"before-parameter-build.dynamodb.{operation}", maybe_fail)
    return hook


# Slow dependencies: the worst case of each path, from the clients' own botocore settings.

COLD_START_MARGIN_SECONDS = 2.5
"""Room for imports and Powertools set-up before the first AWS call."""


def worst_case_seconds(config: Config) -> float:
    """Every attempt connects and reads to its timeout; standard-mode backoff at its ceiling.

    Standard mode waits up to min(2 ** (i - 1), 20) s after attempt i of a throttled call.
    A service's x-amz-retry-after header can stretch each wait by up to 5 s more; this bound
    leaves that out, and SECURITY.md lists it as a residual risk.
    """
    attempts = int(config.retries["total_max_attempts"])
    per_attempt = float(config.connect_timeout) + float(config.read_timeout)
    backoff = float(sum(min(1 << (i - 1), 20) for i in range(1, attempts)))
    return attempts * per_attempt + backoff


def _budget(calls: list[str]) -> float:
    configs = {"dynamodb": DATA_CONFIG, "kms": DATA_CONFIG}
    # A cold start after a rotation derives both subkeys side by side: one round trip's time
    # (tests/unit/test_keyring.py proves they overlap).
    waits = [c for n, c in enumerate(calls) if c != "kms.GenerateMac" or calls[n - 1 : n] != [c]]
    return sum(worst_case_seconds(configs.get(c.split(".")[0], SEND_CONFIG)) for c in waits)


def _path(service: Service, steps: Callable[[], Reply]) -> list[str]:
    before = len(service.calls)
    steps()
    return service.calls[before:]


@pytest.mark.parametrize("policy", [Policy(max_verify_attempts=1)])
def test_every_path_s_worst_case_fits_inside_the_function_timeout(service: Service) -> None:
    """The longest paths, recorded at a cold start: a send that fails and is undone, a
    rotated-key code, a lockout, an attempt window that ran out, and an idempotent replay."""
    paths: dict[str, list[str]] = {}
    service.cold_start()
    service.fail("sns.Publish", "Throttling")
    paths["request, send fails and is undone"] = _path(service, service.request)
    service.heal()
    service.cold_start()
    paths["request, sent"] = _path(
        service, lambda: service.request(headers={"Idempotency-Key": "k"})
    )
    service.clock.advance(30)
    service.cold_start()
    paths["request, idempotent replay"] = _path(
        service, lambda: service.request(headers={"Idempotency-Key": "k"})
    )
    code = service.last_code()
    service.rotate_mac_key()
    service.cold_start()
    service.fail("sns.Publish", "Throttling")
    paths["request after a rotation, send fails and is undone"] = _path(
        service, lambda: service.request(user_id="rotated", destination="+14155550125")
    )
    service.heal()
    service.cold_start()
    service.request(user_id="other", destination="+14155550124")
    service.cold_start()
    paths["verify, rotated key, lockout"] = _path(service, lambda: service.verify(wrong(code)))
    service.clock.advance(3600)
    service.request()
    code = service.last_code()
    service.rotate_mac_key()
    service.cold_start()
    paths["verify, rotated key, approved"] = _path(service, lambda: service.verify(code))
    service.clock.advance(3600 * 2)
    service.cold_start()
    paths["verify, attempt window ran out"] = _path(service, lambda: service.verify("000000"))
    paths["cancel"] = _path(service, service.cancel)
    budgets = {name: _budget(calls) for name, calls in paths.items()}
    # derive the current and the retired key (cold start), then the one write
    assert paths["verify, rotated key, lockout"] == [
        "kms.GenerateMac",
        "kms.GenerateMac",
        "dynamodb.UpdateItem",
    ], paths
    limit = FUNCTION_TIMEOUT_SECONDS - COLD_START_MARGIN_SECONDS
    assert max(budgets.values()) <= limit, budgets


def _sends_by_kind(service: Service) -> dict[str, int]:
    """The sends counted in the table, per user and per destination, all summed."""
    counted = {"user": 0, "dest": 0}
    for item in service.items():
        if item[PARTITION_KEY]["S"].startswith("sends#"):
            counted[item[PARTITION_KEY]["S"].split("#")[1]] += int(item["sends"]["N"])
    return counted


@pytest.mark.parametrize("burn", ["cancel", "lockout"])
def test_a_rejected_send_whose_code_was_burned_in_flight_is_undone_part_by_part(
    service: Service, burn: str
) -> None:
    """Defect 2: a cancel or a lockout lands while the send is in flight, then SNS rejects it.

    The cooldown, both send counters and the Idempotency-Key record must all go, so a retry
    with the same key sends, and counts once.
    """
    key = {"Idempotency-Key": "retry-me"}

    fired: list[bool] = []

    def burn_then_reject(**_: Any) -> None:
        if fired:
            return
        fired.append(True)
        if burn == "cancel":
            assert service.cancel().status == 200
        else:
            statuses = [service.verify("000000").status for _ in range(5)]
            assert statuses[-1] == 429
        raise ClientError({"Error": {"Code": "InvalidParameter", "Message": "x"}}, "Publish")

    service.session.events.register("before-call.sns.Publish", burn_then_reject)
    rejected = service.request(headers=key)
    assert (rejected.status, rejected.body["error"]["code"]) == (502, "delivery_failed")
    assert _sends_by_kind(service) == {"user": 0, "dest": 0}
    retried = service.request(headers=key)
    assert retried.status == 202
    assert len(service.sms()) == 1, "the retry replayed the first answer and sent nothing"
    assert _sends_by_kind(service) == {"user": 1, "dest": 1}
    assert service.verify(service.last_code()).status == 200


@pytest.mark.parametrize("policy", [Policy(resend_cooldown_seconds=0)])
def test_a_rejected_send_replaced_in_flight_leaves_the_newer_code_and_undoes_the_rest(
    service: Service,
) -> None:
    """The user item's undo fails its condition (a newer code is there); the other parts hold."""
    key = {"Idempotency-Key": "retry-me"}
    fired: list[bool] = []

    def replace_then_reject(**_: Any) -> None:
        if fired:
            return
        fired.append(True)
        assert service.request(destination="+14155550124").status == 202
        raise ClientError({"Error": {"Code": "InvalidParameter", "Message": "x"}}, "Publish")

    service.session.events.register("before-call.sns.Publish", replace_then_reject)
    assert service.request(headers=key).status == 502
    assert _sends_by_kind(service) == {"user": 1, "dest": 1}
    assert service.verify(service.last_code()).status == 200
    assert service.request(headers=key).status == 202
    assert _sends_by_kind(service) == {"user": 2, "dest": 2}


@pytest.mark.parametrize("route", ["verify", "cancel"])
def test_a_transaction_conflict_on_verify_or_cancel_is_503_with_retry_after(
    service: Service, route: str
) -> None:
    """Defect 3: a write that meets the same user's request transaction is retried later."""
    service.request()
    service.fail("dynamodb.UpdateItem", "TransactionConflictException")
    reply = service.verify("000000") if route == "verify" else service.cancel()
    assert_contract_error(f"/{route}-token", reply)
    assert (reply.status, reply.body["error"]["code"]) == (503, "service_unavailable")
    assert int(reply.headers["Retry-After"]) >= 1
