"""Helpers for attack tests: wrong guesses, and a gate that orders racing handler calls."""

from __future__ import annotations

import threading
from typing import Any

from otp_service.handlers.attempts import ATTEMPTS
from tests.support.moto_service import Service


def wrong(code: str, offset: int = 1) -> str:
    """A code of the same length that is not `code`."""
    return f"{(int(code) + offset) % 10 ** len(code):0{len(code)}d}"


def is_attempt(params: dict[str, Any]) -> bool:
    """Whether an UpdateItem is verify's one write (it records the attempt)."""
    return f"SET {ATTEMPTS} = list_append" in str(params.get("UpdateExpression", ""))


def could_win(parsed: dict[str, Any], max_attempts: int) -> bool:
    """Whether verify's write went through with fewer than `max_attempts` attempts before it:
    the only attempts whose guess is compared with the code."""
    earlier = parsed.get("Attributes", {}).get(ATTEMPTS, {}).get("L", [])
    return "Error" not in parsed and len(earlier) < max_attempts


class RaceGate:
    """Orders racing verifies at their DynamoDB writes, the worst case for the service.

    Phase 1: `early` threads make their first UpdateItem. Phase 2: the "late" thread, if any,
    makes all its calls, until it calls `leave()`. Phase 3: everything else. Whatever a request
    checks in its first write therefore sees none of the other requests' later writes, and the
    late request runs to its end before any early request's later writes: no outcome
    depends on thread timing. Create the gate before the first handler call: botocore clients
    copy the session's hooks when they are built.
    """

    def __init__(
        self, service: Service, early: int, late: bool = True, max_attempts: int = 5
    ) -> None:
        self._max_attempts = max_attempts
        self._local = threading.local()
        self._lock = threading.Lock()
        self._early = early
        self._early_done = 0
        self._late = late
        self.early_first = threading.Event()
        self.late_done = threading.Event()
        self.compared = 0
        """Writes that recorded a guess which could still win (see `could_win`)."""
        self.updates = 0
        events = service.session.events
        events.register("before-parameter-build.dynamodb.UpdateItem", self._before)
        events.register("after-call.dynamodb.UpdateItem", self._after)
        self._events = events

    def close(self) -> None:
        """Stop gating."""
        self._events.unregister("before-parameter-build.dynamodb.UpdateItem", self._before)
        self._events.unregister("after-call.dynamodb.UpdateItem", self._after)

    def enter(self, role: str) -> None:
        """Mark the calling thread "early" or "late"."""
        self._local.role = role
        self._local.calls = 0

    def _before(self, params: dict[str, Any], **_: Any) -> None:
        role = getattr(self._local, "role", None)
        if role is None:
            return
        self._local.calls += 1
        with self._lock:
            self.updates += 1
        self._local.attempt = is_attempt(params)
        if role == "early" and self._local.calls > 1:
            self.late_done.wait(10)
        if role == "late" and self._local.calls == 1:
            self.early_first.wait(10)

    def _after(self, parsed: dict[str, Any], **_: Any) -> None:
        role = getattr(self._local, "role", None)
        if role is not None and self._local.attempt and could_win(parsed, self._max_attempts):
            with self._lock:
                self.compared += 1
        if role != "early" or self._local.calls != 1:
            return
        with self._lock:
            self._early_done += 1
            if self._early_done == self._early:
                self.early_first.set()
                if not self._late:
                    self.late_done.set()

    def leave(self) -> None:
        """The calling thread's request has returned; after the late one, the rest go on."""
        if getattr(self._local, "role", None) == "late":
            self.late_done.set()
