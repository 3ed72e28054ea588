"""Start `otp-local` once per module and hand tests helpers for the contract's flows."""

from __future__ import annotations

import itertools
import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from otp_service.local.process import LocalStackProcess, Reply

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SENDER = "no-reply@example.com"
_phone_numbers = itertools.count(100)
_user_ids = itertools.count(1)


@dataclass
class Stack:
    """A running otp-local and the calls the tests make against it."""

    process: LocalStackProcess
    stop_signal: signal.Signals = signal.SIGINT
    api_key: str | None = None

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if self.api_key is not None:
            sent.setdefault("x-api-key", self.api_key)
        return self.process.call(method, path, body, headers=sent, raw=raw)

    def request(self, user_id: str, destination: str, **fields: object) -> Reply:
        body = {"user_id": user_id, "destination": destination, **fields}
        return self.call("POST", "/request-token", body)

    def verify(self, user_id: str, code: str) -> Reply:
        return self.call("POST", "/verify-token", {"user_id": user_id, "code": code})

    def cancel(self, user_id: str) -> Reply:
        return self.call("POST", "/cancel-token", {"user_id": user_id})

    def outbox(self) -> list[dict[str, str]]:
        messages: list[dict[str, str]] = self.process.call("GET", "/_local/outbox").body["messages"]
        return messages

    def messages_to(self, destination: str) -> list[dict[str, str]]:
        return [m for m in self.outbox() if m["destination"] == destination]

    def last_code(self, destination: str) -> str:
        """The code in the newest message to `destination`, as its recipient would read it."""
        messages = self.messages_to(destination)
        assert messages, f"nothing was sent to {destination}"
        match = re.search(r"\b[0-9]{6,10}\b", messages[-1]["body"])
        assert match, messages[-1]["body"]
        return match[0]

    def fail(self, operation: str, code: str, status: int = 400) -> None:
        """Make the emulated `operation` fail until `heal()`."""
        fault = {"operation": operation, "code": code, "status": status}
        assert self.process.call("POST", "/_local/faults", fault).status == 200

    def heal(self) -> None:
        assert self.process.call("DELETE", "/_local/faults").status == 200

    def advance_clock(self, seconds: float) -> float:
        """Move the handlers' clock forward; returns its new time."""
        reply = self.process.call("POST", "/_local/clock", {"advance_seconds": seconds})
        assert reply.status == 200
        now: float = reply.body["now"]
        return now

    def now(self) -> float:
        now: float = self.process.call("GET", "/_local/clock").body["now"]
        return now


def phone_number() -> str:
    """A valid US number no other test of the session sends to (send limits are per number)."""
    return f"+1415555{next(_phone_numbers):04d}"


def user_id(prefix: str = "user") -> str:
    """A user ID no other test of the session uses."""
    return f"{prefix}-{next(_user_ids)}"


def started(*arguments: str, stop_signal: signal.Signals = signal.SIGINT) -> Iterator[Stack]:
    """Start otp-local, yield it, then stop it with `stop_signal` and expect exit code 0."""
    process = LocalStackProcess(*arguments, cwd=PROJECT_ROOT)
    api_key = None
    if "--api-key" in arguments:
        api_key = arguments[arguments.index("--api-key") + 1]
    stack = Stack(process, stop_signal, api_key)
    try:
        yield stack
    finally:
        # Generous: on a loaded 2-core machine a clean shutdown has taken over 20 s.
        exit_code = process.stop(stop_signal, timeout=60)
    assert exit_code == 0, "\n".join(process.output[-30:])
    assert any("stopping" in line for line in process.output)
