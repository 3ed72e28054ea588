"""The program's Lambda functions, run in this process from their handler strings.

In the cloud each function is its own container with its own environment. Here the three share
one interpreter, so each function's entry point is built over its own `Container`, made from the
environment the program declares for it: concurrent requests to different functions never see
each other's settings.
"""

from __future__ import annotations

import importlib
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from ..handlers.api import lambda_handler
from ..handlers.container import DATA_CONFIG, Container
from ..handlers.settings import Settings
from .clock import LocalClock
from .emulator import answer_in_process
from .faults import FaultInjector
from .proxy_integration import LambdaContext
from .routes import FunctionSpec

CODE_PACKAGE = "otp_service"
"""The package the functions' code archive root (`handlers/...`) is installed under."""

Handler = Callable[[dict[str, Any], Any], Any]

EMULATOR_DATA_CONFIG = DATA_CONFIG.merge(Config(read_timeout=10.0))
"""The handlers' DynamoDB/KMS settings with a longer read timeout, for any call that does go over
loopback: moto answers one item operation at a time, far slower than DynamoDB under load. (A
timed-out transaction that was applied is retried harmlessly: `dynamodb_fidelity` honours its
`ClientRequestToken`.)"""

MAX_CONCURRENT_INVOCATIONS = 4
"""Invocations that run at once; more wait their turn, as requests queue for Lambda capacity.

moto answers one item operation at a time, so letting every request in at once only makes all
of them slow enough to hit the handlers' production timeouts.
"""


@dataclass(frozen=True)
class LocalFunction:
    """A declared function, loaded: its entry point over its own collaborators."""

    spec: FunctionSpec
    entry_point: Handler


class FunctionHost:
    """Loads each declared function once and invokes it with its own settings."""

    def __init__(
        self,
        specs: list[FunctionSpec],
        clock: LocalClock,
        faults: FaultInjector,
        endpoint_url: str,
        region: str,
    ) -> None:
        self.clock = clock
        self.faults = faults
        self._functions = {
            spec.name: _load(spec, clock, faults, endpoint_url, region) for spec in specs
        }
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT_INVOCATIONS)

    def invoke(self, function_name: str, event: dict[str, Any]) -> Any:
        """Call the function's handler with an event, as Lambda would; returns its result."""
        function = self._functions[function_name]
        context = LambdaContext(
            function_name=function.spec.name,
            aws_request_id=str(uuid.uuid4()),
            memory_limit_in_mb=function.spec.memory_size_mb,
            invoked_function_arn=function.spec.arn,
        )
        with self._slots:
            return function.entry_point(event, context)


def _load(
    spec: FunctionSpec,
    clock: LocalClock,
    faults: FaultInjector,
    endpoint_url: str,
    region: str,
) -> LocalFunction:
    module_name, _, _ = spec.handler.rpartition(".")
    module = importlib.import_module(f"{CODE_PACKAGE}.{module_name}")
    session = boto3.session.Session(region_name=region)
    answer_in_process(session)
    faults.attach(session)
    container = Container(
        Settings.from_env(spec.environment),
        clock=clock,
        session=session,
        data_config=EMULATOR_DATA_CONFIG,
    )
    _create_clients(container, endpoint_url)
    # The module's own `operation`, as its `handler` runs it, over this function's container;
    # the events function (not an API route) builds its entry point over a container itself.
    if hasattr(module, "handler_over"):
        entry_point = module.handler_over(lambda: container)
    else:
        entry_point = lambda_handler(module.operation, lambda: container)
    return LocalFunction(spec=spec, entry_point=entry_point)


def _create_clients(container: Container, endpoint_url: str) -> None:
    """Build the container's clients now, one thread at a time, and check they talk to moto.

    A boto3 session is not safe to create clients from concurrently, and the container builds
    its clients lazily; building them up front removes the race. The endpoint check is the last
    guard against a local request reaching a real AWS account.
    """
    # Reading each cached property builds its clients.
    _ = container.store, container.sender
    if container.settings.mac_key_id is not None:
        _ = container.keyring
    for service in ("dynamodb", "kms", "sns", "ses"):
        probe = container.session.client(service)
        if probe.meta.endpoint_url != endpoint_url:
            raise RuntimeError(f"{service} would be called at {probe.meta.endpoint_url}")


def export_shared_environment(specs: list[FunctionSpec]) -> None:
    """Put the variables every function declares alike (Powertools' settings) in os.environ.

    Libraries such as Powertools read their settings from the process environment when they are
    imported; per-function settings reach the handlers through their own `Container` instead.
    """
    if not specs:
        return
    shared = dict(specs[0].environment)
    for spec in specs[1:]:
        shared = {k: v for k, v in shared.items() if spec.environment.get(k) == v}
    os.environ.update(shared)
