"""The program's Lambda functions, run in this process from their handler strings.

In the cloud each function is its own container with its own environment. Here the three share
one interpreter, and the handlers keep one `Runtime` per container in a module global. So each
function gets its own `Runtime`, built from the environment the program declares for it, and
the global is a router that resolves, for the duration of one invocation and in that
invocation's thread only, to the invoked function's `Runtime`. Concurrent requests to different
functions therefore never see each other's settings.
"""

from __future__ import annotations

import importlib
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

import boto3
from botocore.config import Config

from ..handlers import runtime as handler_runtime
from ..handlers.settings import Settings
from .apigateway import LambdaContext
from .clock import LocalClock
from .faults import FaultInjector
from .routes import FunctionSpec

CODE_PACKAGE = "otp_service"
"""The package the functions' code archive root (`handlers/...`) is installed under."""

Handler = Callable[[dict[str, Any], Any], Any]

EMULATOR_DATA_CONFIG = handler_runtime.DATA_CONFIG.merge(Config(read_timeout=10.0))
"""The handlers' DynamoDB/KMS settings with a longer read timeout: moto copies a whole table
per transaction, so under load it answers far slower than DynamoDB, and a timed-out write that
moto still applied would be retried into the cooldown it set (moto ignores the idempotency
token botocore sends with TransactWriteItems)."""

MAX_CONCURRENT_INVOCATIONS = 4
"""Invocations that run at once; more wait their turn, as requests queue for Lambda capacity.

moto answers one item operation at a time, so letting every request in at once only makes all
of them slow enough to hit the handlers' production timeouts.
"""

_invoked: ContextVar[handler_runtime.Runtime | None] = ContextVar("otp_local_invoked", default=None)


class _InvokedFunctionRuntime:
    """Stands in for the container's `Runtime`: every attribute comes from the invoked one's."""

    def __getattr__(self, name: str) -> Any:
        runtime = _invoked.get()
        if runtime is None:
            raise RuntimeError("a handler's runtime was used outside an otp-local invocation")
        return getattr(runtime, name)


@dataclass(frozen=True)
class LocalFunction:
    """A declared function, loaded: its entry point and its own runtime."""

    spec: FunctionSpec
    entry_point: Handler
    runtime: handler_runtime.Runtime


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
        handler_runtime.install(cast(handler_runtime.Runtime, _InvokedFunctionRuntime()))

    def invoke(self, function_name: str, event: dict[str, Any]) -> Any:
        """Call the function's handler with an event, as Lambda would; returns its result."""
        function = self._functions[function_name]
        context = LambdaContext(
            function_name=function.spec.name,
            aws_request_id=str(uuid.uuid4()),
            memory_limit_in_mb=function.spec.memory_size_mb,
            invoked_function_arn=function.spec.arn,
        )
        with self._slots, _invocation_of(function.runtime):
            return function.entry_point(event, context)

    def close(self) -> None:
        """Give the handlers' container global back its default."""
        handler_runtime.install(None)


@contextmanager
def _invocation_of(runtime: handler_runtime.Runtime) -> Iterator[None]:
    token = _invoked.set(runtime)
    try:
        yield
    finally:
        _invoked.reset(token)


def _load(
    spec: FunctionSpec,
    clock: LocalClock,
    faults: FaultInjector,
    endpoint_url: str,
    region: str,
) -> LocalFunction:
    module_name, _, attribute = spec.handler.rpartition(".")
    module = importlib.import_module(f"{CODE_PACKAGE}.{module_name}")
    entry_point = getattr(module, attribute)
    session = boto3.session.Session(region_name=region)
    faults.attach(session)
    runtime = handler_runtime.Runtime(
        Settings.from_env(spec.environment),
        clock=clock,
        session=session,
        data_config=EMULATOR_DATA_CONFIG,
    )
    _create_clients(runtime, endpoint_url)
    return LocalFunction(spec=spec, entry_point=entry_point, runtime=runtime)


def _create_clients(runtime: handler_runtime.Runtime, endpoint_url: str) -> None:
    """Build the runtime's clients now, one thread at a time, and check they talk to moto.

    A boto3 session is not safe to create clients from concurrently, and the runtime builds its
    clients lazily; building them up front removes the race. The endpoint check is the last
    guard against a local request reaching a real AWS account.
    """
    # Reading each cached property builds its clients.
    _ = runtime.store, runtime.sender
    if runtime.settings.mac_key_id is not None:
        _ = runtime.keyring
    for service in ("dynamodb", "kms", "sns", "ses"):
        probe = runtime.session.client(service)
        if probe.meta.endpoint_url != endpoint_url:
            raise RuntimeError(f"{service} would be called at {probe.meta.endpoint_url}")


def export_shared_environment(specs: list[FunctionSpec]) -> None:
    """Put the variables every function declares alike (Powertools' settings) in os.environ.

    Libraries such as Powertools read their settings from the process environment when they are
    imported; per-function settings reach the handlers through their own `Runtime` instead.
    """
    if not specs:
        return
    shared = dict(specs[0].environment)
    for spec in specs[1:]:
        shared = {k: v for k, v in shared.items() if spec.environment.get(k) == v}
    os.environ.update(shared)
