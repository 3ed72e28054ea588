"""Item 3: warm in-process handler latency against moto, over the bare boto3 calls it needs.

For each operation, every iteration times the Lambda handler on a ready event and, right
after (or before: the order alternates), the same AWS calls made directly with boto3 clients
of the same configuration, against the same moto, in the same process. The ratio of the two
medians is the handler's overhead: parsing and validation, MACs, logging and metrics, and the
wrapper that maps results to responses. Setup (a code to verify, a record to cancel) is
untimed. Logs go to /dev/null while timing.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import ClientError

from otp_service.handlers.container import DATA_CONFIG, SEND_CONFIG
from otp_service.handlers.messages import render
from otp_service.local.apigateway import LambdaContext
from tests.handlers.conftest import Service

from .moto_service import (
    empty_table,
    handler_event,
    last_sms_code,
    running_service,
    stdout_discarded,
    us_phone_numbers,
    wrong_code,
)
from .stats import percentile, ratio

TARGET_P50_RATIO = 1.2

_CODE_MAC = b"\x01" * 32


@dataclass
class WarmLatency:
    """Handler and bare-boto3 latency percentiles of one operation."""

    operation: str
    iterations: int
    handler_p50_ms: float
    handler_p99_ms: float
    bare_p50_ms: float
    bare_p99_ms: float
    p50_ratio: float
    p99_ratio: float
    target_p50_ratio: float
    meets_target: bool
    bare_calls: list[str]

    def as_json(self) -> dict[str, Any]:
        """The result as plain JSON values."""
        return asdict(self)


Timed = Callable[[], object]
Prepare = Callable[[int], Timed]
"""Given an iteration number, do the untimed setup and return the call to time."""


def _timed(call: Timed) -> float:
    start = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - start) / 1e6


class _Bare:
    """The AWS calls each operation needs, made directly on boto3 clients."""

    def __init__(self, service: Service) -> None:
        session = service.session
        self.table = service.settings.table_name
        self.db = session.client("dynamodb", config=DATA_CONFIG)
        self.sns = session.client("sns", config=SEND_CONFIG)
        self.message = render("sms", None, service.settings.brand_name, "123456", 300).body

    def put_pending(self, user: str) -> None:
        self.db.put_item(
            TableName=self.table,
            Item={
                "pk": {"S": f"user#{user}"},
                "code_macs": {"BS": [_CODE_MAC]},
                "code_expires_at": {"N": "4000000000"},
                "channel": {"S": "sms"},
            },
        )

    def request(self, user: str, phone: str) -> None:
        values = {":one": {"N": "1"}, ":max": {"N": "100"}, ":end": {"N": "1800003600"}}
        counter = {
            "UpdateExpression": "ADD sends :one SET expires_at = :end",
            "ConditionExpression": "attribute_not_exists(sends) OR sends < :max",
            "ExpressionAttributeValues": values,
        }
        self.db.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": {"S": f"user#{user}"}},
                        "UpdateExpression": (
                            "SET code_macs = :macs, code_expires_at = :expires, "
                            "cooldown_until = :cooldown, channel = :channel, "
                            "expires_at = :horizon REMOVE attempts"
                        ),
                        "ConditionExpression": (
                            "attribute_not_exists(cooldown_until) OR cooldown_until <= :now"
                        ),
                        "ExpressionAttributeValues": {
                            ":macs": {"BS": [_CODE_MAC]},
                            ":expires": {"N": "1800000300"},
                            ":cooldown": {"N": "1800000030"},
                            ":channel": {"S": "sms"},
                            ":horizon": {"N": "1800003600"},
                            ":now": {"N": "1800000000"},
                        },
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": {"S": f"sends#user#0#{user}"}},
                        **counter,
                    }
                },
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": {"S": f"sends#dest#0#{phone}"}},
                        **counter,
                    }
                },
            ]
        )
        self.sns.publish(
            PhoneNumber=phone,
            Message=self.message,
            MessageAttributes={
                "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}
            },
        )

    def attempt(self, user: str, mac: bytes) -> bool:
        """The handler's one verify write; whether the old item held `mac`."""
        answer = self.db.update_item(
            TableName=self.table,
            Key={"pk": {"S": f"user#{user}"}},
            UpdateExpression=(
                "SET attempts = list_append(if_not_exists(attempts, :none), :now), "
                "expires_at = :horizon DELETE code_macs :guesses"
            ),
            ConditionExpression="attribute_not_exists(attempts) OR size(attempts) < :max",
            ExpressionAttributeValues={
                ":none": {"L": []},
                ":now": {"L": [{"N": "1800000000"}]},
                ":horizon": {"N": "1800003600"},
                ":guesses": {"BS": [mac]},
                ":max": {"N": "5"},
            },
            ReturnValues="ALL_OLD",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return mac in answer.get("Attributes", {}).get("code_macs", {}).get("BS", [])

    def redeem(self, user: str) -> bool:
        return self.attempt(user, _CODE_MAC)

    def verify_wrong(self, user: str) -> None:
        self.attempt(user, bytes(len(_CODE_MAC)))

    def cancel(self, user: str) -> None:
        with contextlib.suppress(ClientError):
            self.db.update_item(
                TableName=self.table,
                Key={"pk": {"S": f"user#{user}"}},
                UpdateExpression="REMOVE code_macs, code_expires_at",
                ConditionExpression="attribute_exists(code_macs)",
            )


def _handler_call(service: Service, route: str, body: dict[str, Any], expect: int) -> Timed:
    event = handler_event(route, body)
    context = LambdaContext(function_name=route.strip("/"))
    handler = service.handler(route)

    def call() -> object:
        result = handler(event, context)
        if result["statusCode"] != expect:
            raise RuntimeError(f"{route} answered {result['statusCode']}, expected {expect}")
        return result

    return call


def _operations(
    service: Service, bare: _Bare, phones: list[str]
) -> dict[str, tuple[Prepare, Prepare, list[str]]]:
    """Per operation: the handler's preparation, the bare one's, and the bare calls made."""

    def request_code(user: str, phone: str) -> str:
        _handler_call(service, "/request-token", {"user_id": user, "destination": phone}, 202)()
        return last_sms_code()

    def handler_request(i: int) -> Timed:
        body = {"user_id": f"h-req-{i}", "destination": phones[i]}
        return _handler_call(service, "/request-token", body, 202)

    def bare_request(i: int) -> Timed:
        return lambda: bare.request(f"b-req-{i}", phones[i])

    def handler_verify(i: int) -> Timed:
        code = request_code(f"h-ok-{i}", phones[i])
        body = {"user_id": f"h-ok-{i}", "code": code}
        return _handler_call(service, "/verify-token", body, 200)

    def bare_verify(i: int) -> Timed:
        bare.put_pending(f"b-ok-{i}")

        def call() -> object:
            if not bare.redeem(f"b-ok-{i}"):
                raise RuntimeError("the bare redeem was refused")
            return None

        return call

    def handler_wrong(i: int) -> Timed:
        code = request_code(f"h-bad-{i}", phones[i])
        body = {"user_id": f"h-bad-{i}", "code": wrong_code(code)}
        return _handler_call(service, "/verify-token", body, 400)

    def bare_wrong(i: int) -> Timed:
        bare.put_pending(f"b-bad-{i}")
        return lambda: bare.verify_wrong(f"b-bad-{i}")

    def handler_cancel(i: int) -> Timed:
        request_code(f"h-cancel-{i}", phones[i])
        return _handler_call(service, "/cancel-token", {"user_id": f"h-cancel-{i}"}, 200)

    def bare_cancel(i: int) -> Timed:
        bare.put_pending(f"b-cancel-{i}")
        return lambda: bare.cancel(f"b-cancel-{i}")

    return {
        "request-token (sms)": (
            handler_request,
            bare_request,
            ["dynamodb.TransactWriteItems", "sns.Publish"],
        ),
        "verify-token (right code)": (
            handler_verify,
            bare_verify,
            ["dynamodb.UpdateItem"],
        ),
        "verify-token (wrong code)": (handler_wrong, bare_wrong, ["dynamodb.UpdateItem"]),
        "cancel-token": (handler_cancel, bare_cancel, ["dynamodb.UpdateItem"]),
    }


def measure_warm(iterations: int, warmup: int = 20) -> list[WarmLatency]:
    """Interleaved handler and bare samples per operation, after `warmup` untimed rounds each."""
    results = []
    with running_service(record_calls=False) as service, stdout_discarded():
        bare = _Bare(service)
        # The per-container KMS call is a cold-start cost, not a warm one.
        service.container.keyring.current()
        phones = us_phone_numbers(warmup + iterations)
        for operation, (handler, plain, bare_calls) in _operations(service, bare, phones).items():
            handler_ms: list[float] = []
            bare_ms: list[float] = []
            gc.collect()
            for i in range(warmup + iterations):
                empty_table(service.settings.table_name)
                handler_call, bare_call = handler(i), plain(i)
                if i % 2:
                    first, second = _timed(bare_call), _timed(handler_call)
                    pair = (second, first)
                else:
                    pair = (_timed(handler_call), _timed(bare_call))
                if i >= warmup:
                    handler_ms.append(pair[0])
                    bare_ms.append(pair[1])
            h50, h99 = percentile(handler_ms, 0.5), percentile(handler_ms, 0.99)
            b50, b99 = percentile(bare_ms, 0.5), percentile(bare_ms, 0.99)
            results.append(
                WarmLatency(
                    operation=operation,
                    iterations=iterations,
                    handler_p50_ms=round(h50, 3),
                    handler_p99_ms=round(h99, 3),
                    bare_p50_ms=round(b50, 3),
                    bare_p99_ms=round(b99, 3),
                    p50_ratio=ratio(h50, b50),
                    p99_ratio=ratio(h99, b99),
                    target_p50_ratio=TARGET_P50_RATIO,
                    meets_target=h50 / b50 <= TARGET_P50_RATIO,
                    bare_calls=bare_calls,
                )
            )
    return results


if __name__ == "__main__":
    from .environment import isolate_from_aws

    isolate_from_aws()
    for row in measure_warm(100):
        print(row)
