"""Item 1: AWS calls per operation, counted with botocore event hooks, against the design floor.

`before-call` fires once per API call (the handler tests' recorder), `before-send` once per
HTTP attempt (so a retry would show), and `before-parameter-build` hands over each call's
parameters, from which the DynamoDB write request units are worked out.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import boto3

from otp_service.handlers import events, receipts
from otp_service.handlers.container import Container
from otp_service.handlers.observability import SENT_LOG_MESSAGE
from otp_service.handlers.table import PARTITION_KEY, verification_key
from otp_service.local.proxy_integration import LambdaContext

from .moto_service import (
    START,
    Service,
    drained_stream,
    handler_event,
    last_sms_code,
    last_sms_message_id,
    running_service,
    stdout_bytes,
    stdout_discarded,
    us_phone_numbers,
    wrong_code,
)

_WRITE_UNIT_BYTES = 1024
_TRANSACTIONAL_FACTOR = 2


@dataclass(frozen=True)
class Floor:
    """The fewest AWS calls a secure design needs for an operation, why, and the issue's cap."""

    calls: int
    why: str
    target_calls: int | None = None
    target_dynamodb: int | None = None


_VERIFY_WHY = "the same one write as a right code: every outcome costs the same"
_REQUEST_WHY = "one DynamoDB write round trip (code, cooldown, both send limits) + the send"
FLOORS = {
    "request-token (sms)": Floor(2, _REQUEST_WHY, target_calls=2, target_dynamodb=1),
    "request-token (email)": Floor(2, _REQUEST_WHY + " (SES)", target_calls=2, target_dynamodb=1),
    "request-token (Idempotency-Key)": Floor(
        2, "the idempotency record joins the same transaction", target_calls=2, target_dynamodb=1
    ),
    "request-token (first in a container)": Floor(
        3, "as for SMS + one KMS GenerateMac per container", target_calls=3, target_dynamodb=1
    ),
    "verify-token (right code)": Floor(
        1,
        "one conditional write appends the attempt; the old item (ALL_OLD) holds the code's MAC "
        "and every earlier attempt, so the function knows whether this guess is the first to win",
        target_calls=1,
        target_dynamodb=1,
    ),
    "verify-token (wrong code)": Floor(1, _VERIFY_WHY, target_calls=1, target_dynamodb=1),
    "verify-token (unknown user)": Floor(1, _VERIFY_WHY, target_calls=1, target_dynamodb=1),
    "verify-token (locked out)": Floor(
        1,
        "the same write, refused by its condition once the code's attempts are all recorded; "
        "the item comes back with the refusal (ReturnValuesOnConditionCheckFailure)",
        target_calls=1,
        target_dynamodb=1,
    ),
    "cancel-token": Floor(1, "one conditional write ends the pending code's verification"),
}
"""The design's floor per operation, and the issue's targets where it sets one (request, verify)."""


@dataclass
class CallCount:
    """What one operation cost in AWS calls."""

    operation: str
    status: int
    calls: list[str]
    http_attempts: int
    dynamodb_round_trips: int
    write_request_units: int
    log_bytes: int
    floor: int
    floor_why: str
    target_calls: int | None
    target_dynamodb: int | None
    meets_floor: bool = field(init=False)
    meets_target: bool | None = field(init=False)

    def __post_init__(self) -> None:
        self.meets_floor = len(self.calls) <= self.floor
        self.meets_target = None
        if self.target_calls is not None and self.target_dynamodb is not None:
            self.meets_target = (
                len(self.calls) <= self.target_calls
                and self.dynamodb_round_trips <= self.target_dynamodb
            )

    def as_json(self) -> dict[str, Any]:
        """The count as plain JSON values."""
        return asdict(self)


@dataclass
class _Recorder:
    """HTTP attempts and call parameters, per operation."""

    attempts: int = 0
    parameters: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def on_send(self, **_: Any) -> None:
        self.attempts += 1

    def on_parameters(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        self.parameters.append((event_name.removeprefix("before-parameter-build."), params))

    def reset(self) -> None:
        self.attempts = 0
        self.parameters.clear()


def write_request_units(parameters: list[tuple[str, dict[str, Any]]], item_bytes: int) -> int:
    """On-demand write units: 1 per item-KiB per write, 2 in a transaction; failed writes count."""
    per_item = max(1, math.ceil(item_bytes / _WRITE_UNIT_BYTES))
    units = 0
    for operation, params in parameters:
        if operation == "dynamodb.TransactWriteItems":
            units += _TRANSACTIONAL_FACTOR * per_item * len(params["TransactItems"])
        elif operation in {"dynamodb.UpdateItem", "dynamodb.PutItem", "dynamodb.DeleteItem"}:
            units += per_item
    return units


def largest_item_bytes(table_name: str) -> int:
    """The largest item in the table by DynamoDB's sizing (attribute names + values)."""
    client = boto3.client("dynamodb")
    items = client.scan(TableName=table_name)["Items"]
    return max((_item_size(item) for item in items), default=0)


def _item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    """A value's size as DynamoDB counts it (its item-size documentation)."""
    ((kind, payload),) = value.items()
    if kind == "S":
        return len(payload.encode())
    if kind == "N":
        return _number_size(payload)
    if kind == "B":
        return len(payload)
    if kind == "BS":
        return sum(len(element) for element in payload)
    if kind == "SS":
        return sum(len(element.encode()) for element in payload)
    if kind == "NS":
        return sum(_number_size(element) for element in payload)
    if kind == "L":
        return 3 + sum(1 + _value_size(element) for element in payload)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in payload.items())
    return 1  # BOOL, NULL


def _number_size(payload: str) -> int:
    return math.ceil(len(payload.lstrip("-").replace(".", "")) / 2) + 1


def count_calls() -> tuple[list[CallCount], dict[str, Any]]:
    """Run each operation once in a fresh moto account and count what it called."""
    with running_service(record_calls=True) as service, stdout_discarded():
        recorder = _Recorder()
        service.session.events.register("before-send", recorder.on_send)
        service.session.events.register("before-parameter-build", recorder.on_parameters)
        numbers = iter(us_phone_numbers(16))
        measured: list[tuple[str, int, list[str], int, list[tuple[str, dict[str, Any]]], int]] = []

        def measure(operation: str, call: Callable[[], dict[str, Any]]) -> None:
            service.calls.clear()
            recorder.reset()
            with stdout_bytes() as logged:
                status = int(call()["statusCode"])
            measured.append(
                (
                    operation,
                    status,
                    list(service.calls),
                    recorder.attempts,
                    list(recorder.parameters),
                    logged[0],
                )
            )

        def request(user: str, **fields: Any) -> Callable[[], dict[str, Any]]:
            headers = fields.pop("headers", None)
            body = {"user_id": user, "destination": next(numbers), **fields}
            return _invoke(service, "/request-token", body, headers)

        measure("request-token (first in a container)", request("first"))
        measure("request-token (sms)", request("alice"))
        measure(
            "request-token (email)",
            request("bob", channel="email", destination="bob@example.com"),
        )
        measure(
            "request-token (Idempotency-Key)", request("carol", headers={"Idempotency-Key": "k1"})
        )
        _invoke(service, "/request-token", {"user_id": "dave", "destination": next(numbers)})()
        code = last_sms_code()
        measure(
            "verify-token (right code)",
            _invoke(service, "/verify-token", {"user_id": "dave", "code": code}),
        )
        _invoke(service, "/request-token", {"user_id": "erin", "destination": next(numbers)})()
        measure(
            "verify-token (wrong code)",
            _invoke(
                service,
                "/verify-token",
                {"user_id": "erin", "code": wrong_code(last_sms_code())},
            ),
        )
        measure(
            "verify-token (unknown user)",
            _invoke(service, "/verify-token", {"user_id": "nobody", "code": "000000"}),
        )
        for _ in range(10):
            _invoke(service, "/verify-token", {"user_id": "erin", "code": "000000"})()
        measure(
            "verify-token (locked out)",
            _invoke(service, "/verify-token", {"user_id": "erin", "code": "000000"}),
        )
        measure("cancel-token", _invoke(service, "/cancel-token", {"user_id": "erin"}))
        item_bytes = largest_item_bytes(service.settings.table_name)

    counts = [
        CallCount(
            operation=operation,
            status=status,
            calls=calls,
            http_attempts=attempts,
            dynamodb_round_trips=sum(1 for c in calls if c.startswith("dynamodb.")),
            write_request_units=write_request_units(parameters, item_bytes),
            log_bytes=log_bytes,
            floor=FLOORS[operation].calls,
            floor_why=FLOORS[operation].why,
            target_calls=FLOORS[operation].target_calls,
            target_dynamodb=FLOORS[operation].target_dynamodb,
        )
        for operation, status, calls, attempts, parameters, log_bytes in measured
    ]
    return counts, {"largest_item_bytes": item_bytes}


@dataclass
class Invocations:
    """What one off-path function did across its invocations for one pair."""

    invocations: int = 0
    records: int = 0
    calls: list[str] = field(default_factory=list)
    write_units: int = 0
    billed_ms: int = 0
    log_bytes: int = 0


@dataclass
class OffPathCount:
    """What one SMS request-token + right-code verify-token makes the functions off the request
    path do: the events function (the table's stream) and the receipts function (SMS)."""

    events: Invocations
    receipts: Invocations

    @property
    def invocations(self) -> int:
        """Lambda requests off the path, per pair."""
        return self.events.invocations + self.receipts.invocations

    @property
    def write_units(self) -> int:
        """DynamoDB write units off the path, per pair."""
        return self.events.write_units + self.receipts.write_units

    @property
    def billed_ms(self) -> int:
        """Lambda milliseconds off the path, each invocation rounded up to 1 ms."""
        return self.events.billed_ms + self.receipts.billed_ms

    @property
    def log_bytes(self) -> int:
        """Log bytes off the path, per pair."""
        return self.events.log_bytes + self.receipts.log_bytes

    @property
    def sns_publishes(self) -> int:
        """Lifecycle events published to the events topic, per pair."""
        return self.events.calls.count("sns.Publish")

    def as_json(self) -> dict[str, Any]:
        """The count as plain JSON values."""
        return {
            **asdict(self),
            "invocations": self.invocations,
            "write_units": self.write_units,
            "billed_ms": self.billed_ms,
            "log_bytes": self.log_bytes,
            "sns_publishes": self.sns_publishes,
        }


def count_off_path() -> OffPathCount:
    """One SMS pair in a fresh moto account, with what it sets off behind it.

    In the order a pair's work arrives: the request; its two receipt halves (request-token's
    sent line and the SMS delivery-status log, each a log subscription's invocation of the
    receipts function); the verification. After each, the table's stream goes to the events
    function one batch per write round trip until it is quiet (low traffic: no other pair
    shares a batch, the worst case per pair). AWS calls are counted on item 1's hooked session.
    """
    with running_service(record_calls=True) as service, stdout_discarded():
        recorder = _Recorder()
        service.session.events.register("before-parameter-build", recorder.on_parameters)
        topic = service.session.client("sns").create_topic(Name="otp-events")["TopicArn"]
        settings = replace(service.settings, events_topic_arn=topic)
        container = Container(settings, clock=lambda: START, session=service.session)
        stream_handler = events.handler_over(lambda: container)
        receipts_handler = receipts.handler_over(lambda: container)
        context = LambdaContext(function_name="off-path")
        stream_handler({"Records": []}, context)  # warm containers: their clients are built
        receipts_handler(_log_event(), context)
        events_done, receipts_done = Invocations(), Invocations()
        events_writes: list[tuple[str, dict[str, Any]]] = []
        receipts_writes: list[tuple[str, dict[str, Any]]] = []

        def invoke(
            done: Invocations,
            writes: list[tuple[str, dict[str, Any]]],
            handler: Any,
            event: dict[str, Any],
            records: int,
        ) -> Any:
            service.calls.clear()
            recorder.reset()
            with stdout_bytes() as logged:
                started = time.perf_counter()
                answer = handler(event, context)
                done.billed_ms += math.ceil((time.perf_counter() - started) * 1000)
            done.invocations += 1
            done.records += records
            done.calls += service.calls
            done.log_bytes += logged[0]
            writes += recorder.parameters
            return answer

        def drain_stream() -> None:
            while batch := drained_stream(settings.table_name):
                event = {"Records": batch}
                answer = invoke(events_done, events_writes, stream_handler, event, len(batch))
                assert answer == {"batchItemFailures": []}, answer

        def receive(entry: dict[str, Any]) -> None:
            answer = invoke(receipts_done, receipts_writes, receipts_handler, _log_event(entry), 1)
            assert answer == {"applied": 1, "unreadable": 0}, answer
            drain_stream()

        number = us_phone_numbers(1)[0]
        _invoke(service, "/request-token", {"user_id": "pat", "destination": number})()
        drain_stream()
        message_id = last_sms_message_id()
        receive(
            {
                "message": SENT_LOG_MESSAGE,
                "channel": "sms",
                "message_id": message_id,
                "verification_id": _verification_id(settings.table_name),
            }
        )
        receive(
            {
                "status": "SUCCESS",
                "notification": {"messageId": message_id, "timestamp": "2027-01-15 08:00:00.000"},
            }
        )
        _invoke(service, "/verify-token", {"user_id": "pat", "code": last_sms_code()})()
        drain_stream()
        item_bytes = largest_item_bytes(settings.table_name)
        events_done.write_units = write_request_units(events_writes, item_bytes)
        receipts_done.write_units = write_request_units(receipts_writes, item_bytes)
        return OffPathCount(events_done, receipts_done)


def _log_event(*entries: dict[str, Any]) -> dict[str, Any]:
    """A CloudWatch Logs subscription's invocation carrying `entries`, one log event each."""
    payload = {"logEvents": [{"message": json.dumps(entry)} for entry in entries]}
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(payload).encode()))}}


def _verification_id(table_name: str) -> str:
    """The one verification in the table (read off the hooked session, so not counted)."""
    items = boto3.client("dynamodb").scan(TableName=table_name)["Items"]
    keys: list[str] = [item[PARTITION_KEY]["S"] for item in items]
    (key,) = [k for k in keys if k.startswith(verification_key(""))]
    return key.removeprefix(verification_key(""))


def _invoke(
    service: Service, route: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Callable[[], dict[str, Any]]:
    event = handler_event(route, body, headers)
    context = LambdaContext(function_name=route.strip("/"))
    handler = service.handler(route)

    def call() -> dict[str, Any]:
        result: dict[str, Any] = handler(event, context)
        return result

    return call


def summarize(counts: list[CallCount]) -> Counter[str]:
    """Calls per AWS operation across all measured operations."""
    return Counter(call for count in counts for call in count.calls)


__all__ = [
    "FLOORS",
    "CallCount",
    "Invocations",
    "OffPathCount",
    "Service",
    "count_calls",
    "count_off_path",
    "summarize",
]
