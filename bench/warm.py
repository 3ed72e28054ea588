"""Item 3: warm in-process handler latency against moto, over the bare boto3 calls it makes.

For each operation, every iteration times the Lambda handler on a ready event and then replays
exactly the AWS calls that invocation made (recorded with botocore's `before-parameter-build`
hook: every parameter, so a transaction that grows grows on both sides) on plain boto3 clients
of the same configuration, against the same moto, in the same process, with the table put back
as the handler met it. The ratio of the two medians is the handler's own work: parsing and
validation, MACs, logging and metrics, and the wrapper that maps results to responses. Setup (a
code to verify, a record to cancel) is untimed. Logs go to /dev/null while timing.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import boto3
from botocore import xform_name
from botocore.exceptions import ClientError
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from otp_service.handlers.container import DATA_CONFIG, SEND_CONFIG
from otp_service.local.moto_resources import REGION
from otp_service.local.proxy_integration import LambdaContext

from .moto_service import (
    Service,
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


Call = tuple[str, str, dict[str, Any]]
"""One AWS call: service, operation (`TransactWriteItems`), parameters."""


_TOKEN = "ClientRequestToken"
"""botocore fills in a fresh one per call; a replayed one would be answered from the first."""


class _Replay:
    """Records the calls the handlers make and makes them again on plain boto3 clients."""

    def __init__(self, service: Service) -> None:
        session = boto3.session.Session(region_name=REGION)
        self.clients = {
            "dynamodb": session.client("dynamodb", config=DATA_CONFIG),
            "kms": session.client("kms", config=DATA_CONFIG),
            "sns": session.client("sns", config=SEND_CONFIG),
            "ses": session.client("ses", config=SEND_CONFIG),
        }
        self._recorded: list[tuple[str, dict[str, Any]]] = []
        service.session.events.register("before-parameter-build", self._record)

    def _record(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        # Only a reference while the handler is timed; `take` copies afterwards.
        self._recorded.append((event_name, params))

    def start(self) -> None:
        """Forget what the setup called."""
        self._recorded.clear()

    def take(self) -> list[Call]:
        """The calls recorded since `start`, without botocore's own idempotency token."""
        calls = []
        for event_name, params in self._recorded:
            service, operation = event_name.split(".")[1:]
            parameters = {k: copy.deepcopy(v) for k, v in params.items() if k != _TOKEN}
            calls.append((service, operation, parameters))
        return calls

    def replay(self, calls: list[Call]) -> None:
        """Make the calls; a refused condition is an answer the handler reads, too."""
        for service, operation, parameters in calls:
            with contextlib.suppress(ClientError):
                getattr(self.clients[service], xform_name(operation))(**parameters)


def _table_items(table_name: str) -> Any:
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[table_name].items


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


def _operations(service: Service, phones: list[str]) -> dict[str, Prepare]:
    """Per operation: the untimed setup through the handlers, returning the handler call."""

    def request_code(user: str, phone: str) -> str:
        _handler_call(service, "/request-token", {"user_id": user, "destination": phone}, 202)()
        return last_sms_code()

    def handler_request(i: int) -> Timed:
        body = {"user_id": f"h-req-{i}", "destination": phones[i]}
        return _handler_call(service, "/request-token", body, 202)

    def handler_verify(i: int) -> Timed:
        code = request_code(f"h-ok-{i}", phones[i])
        body = {"user_id": f"h-ok-{i}", "code": code}
        return _handler_call(service, "/verify-token", body, 200)

    def handler_wrong(i: int) -> Timed:
        code = request_code(f"h-bad-{i}", phones[i])
        body = {"user_id": f"h-bad-{i}", "code": wrong_code(code)}
        return _handler_call(service, "/verify-token", body, 400)

    def handler_cancel(i: int) -> Timed:
        request_code(f"h-cancel-{i}", phones[i])
        return _handler_call(service, "/cancel-token", {"user_id": f"h-cancel-{i}"}, 200)

    return {
        "request-token (sms)": handler_request,
        "verify-token (right code)": handler_verify,
        "verify-token (wrong code)": handler_wrong,
        "cancel-token": handler_cancel,
    }


def measure_warm(iterations: int, warmup: int = 20) -> list[WarmLatency]:
    """Per operation, `warmup` untimed rounds and then `iterations` handler+replay samples."""
    results = []
    with running_service(record_calls=False) as service, stdout_discarded():
        replay = _Replay(service)
        # The per-container KMS call is a cold-start cost, not a warm one.
        service.container.keyring.current()
        phones = us_phone_numbers(warmup + iterations)
        table = service.settings.table_name
        for operation, prepare in _operations(service, phones).items():
            handler_ms: list[float] = []
            bare_ms: list[float] = []
            bare_calls: list[str] = []
            gc.collect()
            for i in range(warmup + iterations):
                empty_table(table)
                handler_call = prepare(i)
                as_met = copy.deepcopy(_table_items(table))
                replay.start()
                handler_sample = _timed(handler_call)
                calls = replay.take()
                items = _table_items(table)
                items.clear()
                items.update(as_met)
                bare_sample = _timed(lambda calls=calls: replay.replay(calls))  # type: ignore[misc]
                bare_calls = [f"{service}.{operation}" for service, operation, _ in calls]
                if i >= warmup:
                    handler_ms.append(handler_sample)
                    bare_ms.append(bare_sample)
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
