"""The handlers wired to moto in this process, on the resources the integration tests use.

`otp_service.local.moto_resources` owns the table, key and sender setup for both, so the thing
measured is the thing tested; a `before-call` hook can record every AWS operation.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import phonenumbers
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.sns.models import sns_backends

import otp_service.handlers.cancel_token as cancel_token
import otp_service.handlers.request_token as request_token
import otp_service.handlers.verify_token as verify_token
from otp_service.handlers.api import Handler, lambda_handler
from otp_service.handlers.container import Container
from otp_service.handlers.settings import Policy, Settings
from otp_service.local.atomic import make_dynamodb_atomic
from otp_service.local.moto_resources import REGION, create_service_resources
from otp_service.local.proxy_integration import proxy_event

from .environment import isolate_from_aws

BENCH_POLICY = Policy(max_sends_per_window=100)
"""The default policy with a send limit that many benchmark sends to one number cannot reach."""

START = 1_800_000_000.0
"""The handlers' clock stands still here: no cooldown or window ends during a run."""

_OPERATIONS = {
    "/request-token": request_token.operation,
    "/verify-token": verify_token.operation,
    "/cancel-token": cancel_token.operation,
}


@dataclass
class Service:
    """The handlers over one container in a moto account; `calls` when they are recorded."""

    settings: Settings
    session: boto3.session.Session
    calls: list[str] = field(default_factory=list)
    container: Container = field(init=False)

    def __post_init__(self) -> None:
        self.container = Container(self.settings, clock=lambda: START, session=self.session)

    def handler(self, route: str) -> Handler:
        """The route's Lambda entry point over this service's container."""
        return lambda_handler(_OPERATIONS[route], lambda: self.container)

    def record_call(self, event_name: str, **_: Any) -> None:
        """A botocore `before-call` hook: keep the operation's name (`dynamodb.UpdateItem`)."""
        self.calls.append(event_name.removeprefix("before-call."))


@contextlib.contextmanager
def running_service(policy: Policy = BENCH_POLICY, *, record_calls: bool) -> Iterator[Service]:
    """A fresh moto account with the service's resources, and the handlers wired to it.

    With `record_calls`, the session's `before-call` hook appends every AWS operation the
    handlers make to `Service.calls`; without it the session carries no extra hook.
    """
    isolate_from_aws()
    make_dynamodb_atomic()
    with mock_aws():
        settings = create_service_resources(policy)
        session = boto3.session.Session(region_name=REGION)
        service = Service(settings, session)
        if record_calls:
            session.events.register("before-call", service.record_call)
        yield service


def empty_table(table_name: str) -> None:
    """Drop every item from moto's copy of the table.

    Emptying the table between samples makes every sample, the handler's and the bare calls',
    meet the same table (and the same conditions).
    """
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
    backend.tables[table_name].items.clear()


def drained_stream(table_name: str) -> list[dict[str, Any]]:
    """The table's stream records since the last drain, as the events function receives them.

    Read from moto's shard (its DynamoDB Streams API answers DescribeStream with 404 under
    `mock_aws`), as the Fraud Guard tests and simulation read it.
    """
    shard = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[table_name].stream_shard
    if shard is None:
        return []
    records = [record.to_json() for record in shard.items]
    shard.items.clear()
    return records


def last_sms_message_id() -> str:
    """The provider's message id of the newest SMS moto captured."""
    return next(reversed(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages))


def last_sms_code() -> str:
    """The code in the newest SMS moto captured, read the way a person would."""
    messages = sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages
    _, text = next(reversed(messages.values()))
    return next(w.strip(".") for w in str(text).split() if w.strip(".").isdigit())


def wrong_code(code: str) -> str:
    """A code of the same length that is certainly not `code`."""
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def us_phone_numbers(count: int) -> list[str]:
    """`count` distinct US numbers that pass the handlers' validation (area code 415)."""
    numbers: list[str] = []
    for line in range(10_000):
        candidate = f"+1415555{line:04d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate, None)):
            numbers.append(candidate)
            if len(numbers) == count:
                return numbers
    raise RuntimeError(f"only {len(numbers)} valid numbers in +1415555xxxx")


@contextlib.contextmanager
def stdout_bytes() -> Iterator[list[int]]:
    """Capture everything written to file descriptor 1; yields a list that gets its byte count.

    The handlers' JSON logs and EMF metrics go to stdout, which Lambda ships to CloudWatch Logs.
    """
    counted: list[int] = []
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield counted
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            counted.append(os.fstat(sink.fileno()).st_size)


@contextlib.contextmanager
def stdout_discarded() -> Iterator[None]:
    """Send file descriptor 1 to /dev/null, so log writes cost what a fast sink costs."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "wb") as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def handler_event(route: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    """The API Gateway proxy event for a JSON POST to `route`."""
    return proxy_event(
        "POST",
        route,
        headers={"Content-Type": "application/json", **(headers or {})},
        body=json.dumps(body).encode(),
    )
