"""The handlers wired to moto in this process, with a clock the tests move; and its fixtures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

import otp_service.handlers.cancel_token as cancel_token
import otp_service.handlers.request_token as request_token
import otp_service.handlers.verify_token as verify_token
from otp_service.handlers.api import Handler, lambda_handler
from otp_service.handlers.container import Container
from otp_service.handlers.settings import Policy, Settings
from otp_service.local.atomic import make_dynamodb_atomic
from otp_service.local.faults import FaultInjector
from otp_service.local.moto_resources import REGION, create_service_resources
from otp_service.local.proxy_integration import LambdaContext, proxy_event

START = 1_800_000_000.0


@dataclass
class FakeClock:
    """A clock that moves only when told to."""

    now: float = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Reply:
    """A handler's proxy response, decoded."""

    status: int
    headers: dict[str, str]
    body: dict[str, Any]


def code_in(text: str) -> str:
    """The code in a message's text, as the user would read it (`... code is 123456. ...`)."""
    return next(w.strip(".") for w in text.split() if w.strip(".").isdigit())


@dataclass
class Service:
    """The handlers wired to moto, with helpers to call them and read what was sent."""

    settings: Settings
    clock: FakeClock
    session: boto3.session.Session
    faults: FaultInjector = field(default_factory=FaultInjector)
    calls: list[str] = field(default_factory=list)
    container: Container = field(init=False)

    def __post_init__(self) -> None:
        self.cold_start()

    def fail(
        self, operation: str, code: str, status: int = 400, message: str = "injected", **extra: Any
    ) -> None:
        """Make every later call of `operation` (e.g. "dynamodb.UpdateItem") fail with `code`."""
        self.faults.inject(operation, code, status, message, **extra)

    def cold_start(self) -> None:
        """A new container: fresh collaborators, so the MAC subkey is derived again."""
        self.container = Container(self.settings, clock=self.clock, session=self.session)

    def handler(self, route: str) -> Handler:
        """The route's Lambda entry point over this service's current container."""
        module = {
            "/request-token": request_token,
            "/verify-token": verify_token,
            "/cancel-token": cancel_token,
        }[route]
        return lambda_handler(module.operation, lambda: self.container)

    def rotate_mac_key(self) -> dict[str, Any]:
        """Point the MAC key alias at a new HMAC key; the metadata of the new key."""
        kms = self.session.client("kms")
        key: dict[str, Any] = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")[
            "KeyMetadata"
        ]
        retired = kms.describe_key(KeyId=self.settings.mac_key_id)["KeyMetadata"]["Arn"]
        kms.update_alias(AliasName=self.settings.mac_key_id, TargetKeyId=key["KeyId"])
        # As the component does: verify is told the retired key, from its next cold start on.
        self.settings = replace(self.settings, retired_mac_key_id=retired)
        return key

    def heal(self) -> None:
        """Stop injecting faults."""
        self.faults.clear()

    def record_call(self, event_name: str, **_: Any) -> None:
        """A botocore `before-call` hook: keep the operation's name (`dynamodb.UpdateItem`)."""
        self.calls.append(event_name.removeprefix("before-call."))

    def call(
        self, route: str, body: Any, headers: dict[str, str] | None = None, raw: str | None = None
    ) -> Reply:
        payload = raw.encode() if raw is not None else json.dumps(body).encode()
        event = proxy_event(
            "POST",
            route,
            headers={"Content-Type": "application/json", **(headers or {})},
            body=payload,
        )
        result = self.handler(route)(event, LambdaContext(function_name=route.strip("/")))
        return Reply(result["statusCode"], result["headers"], json.loads(result["body"]))

    def request(
        self, user_id: str = "alice", headers: dict[str, str] | None = None, **fields: Any
    ) -> Reply:
        body = {"user_id": user_id, "destination": "+14155550123", **fields}
        return self.call("/request-token", body, headers)

    def verify(self, code: str, user_id: str = "alice") -> Reply:
        return self.call("/verify-token", {"user_id": user_id, "code": code})

    def cancel(self, user_id: str = "alice") -> Reply:
        return self.call("/cancel-token", {"user_id": user_id})

    def sms(self) -> list[tuple[str, str]]:
        return list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values())

    def emails(self) -> list[Any]:
        return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)

    def codes_sent(self) -> list[str]:
        """The code in each SMS and email sent so far, as the user would read it."""
        texts = [text for _, text in self.sms()] + [m.body for m in self.emails()]
        return [code_in(text) for text in texts]

    def last_code(self) -> str:
        """The newest code sent; email codes count as newer than SMS codes."""
        codes = self.codes_sent()
        assert codes, "nothing was sent"
        return codes[-1]

    def items(self) -> list[dict[str, Any]]:
        client = boto3.client("dynamodb", region_name=REGION)
        return list(client.scan(TableName=self.settings.table_name)["Items"])


@pytest.fixture
def policy() -> Policy:
    """The policy under test; override in a test module to change it."""
    return Policy()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(policy: Policy, clock: FakeClock) -> Iterator[Service]:
    make_dynamodb_atomic()
    with mock_aws():
        settings = create_service_resources(policy)
        session = boto3.session.Session(region_name=REGION)
        service = Service(settings, clock, session)
        session.events.register("before-call", service.record_call)
        service.faults.attach(session)
        yield service
