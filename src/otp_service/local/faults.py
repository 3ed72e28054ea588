"""Local-only fault injection: make an AWS call fail the way the real service can.

`POST /_local/faults` registers one; every later call of that operation by a function raises
the error before it leaves the process, until `DELETE /_local/faults` clears them all. The
in-process tests use the same injector, with any exception (a read timeout, say).
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.exceptions import ClientError


class FaultInjector:
    """Operation (`sns.Publish`) -> the error its next calls fail with."""

    def __init__(self) -> None:
        self._faults: dict[str, Exception] = {}
        self._lock = threading.Lock()

    def inject(
        self,
        operation: str,
        code: str,
        status: int,
        message: str = "injected by otp-local",
        **response: Any,
    ) -> None:
        """Fail every later call of `operation` with AWS error `code` and HTTP `status`.

        `response` adds members to the error response (e.g. `CancellationReasons`).
        """
        error = {"Error": {"Code": code, "Message": message}}
        metadata = {"ResponseMetadata": {"HTTPStatusCode": status}}
        self.raise_on(
            operation, ClientError({**error, **metadata, **response}, _operation_name(operation))
        )

    def raise_on(self, operation: str, error: Exception) -> None:
        """Raise `error` from every later call of `operation`."""
        _operation_name(operation)
        with self._lock:
            self._faults[operation] = error

    def clear(self) -> None:
        """Let every call through again."""
        with self._lock:
            self._faults.clear()

    def attach(self, session: Any) -> None:
        """Check each call a boto3 session's clients make (clients created later included)."""
        session.events.register("before-call", self._before_call)

    def _before_call(self, event_name: str, **_: Any) -> None:
        operation = event_name.removeprefix("before-call.")
        with self._lock:
            fault = self._faults.get(operation)
        if fault is not None:
            raise fault


def _operation_name(operation: str) -> str:
    """`sns.Publish` -> `Publish`; anything else is refused."""
    service, _, name = operation.partition(".")
    if not service or not name:
        raise ValueError("operation must look like 'sns.Publish'")
    return name
