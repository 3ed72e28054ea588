"""The local-only routes under `/_local/`: health, the outbox (as JSON and as a page), the
events, the test controls.

The clock and fault routes exist so tests can reach expiry, cooldowns and provider failures
without sleeping or breaking anything for real; the cloud has no counterpart to them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from .clock import LocalClock
from .faults import FaultInjector
from .outbox import EventLog, Outbox
from .outbox_page import page_files
from .proxy_integration import HttpResponse

PREFIX = "/_local/"

Action = Callable[[bytes], HttpResponse]


class LocalControl:
    """Answers `/_local/...` requests."""

    def __init__(
        self, outbox: Outbox, clock: LocalClock, faults: FaultInjector, events: EventLog
    ) -> None:
        self._outbox = outbox
        self._clock = clock
        self._faults = faults
        self._routes: dict[tuple[str, str], Action] = {
            ("GET", "/_local/health"): lambda _: _json(200, {"status": "ok"}),
            ("GET", "/_local/outbox"): lambda _: _json(200, {"messages": outbox.messages()}),
            ("DELETE", "/_local/outbox"): self._empty_outbox,
            ("GET", "/_local/events"): lambda _: _json(200, {"events": events.events()}),
            ("GET", "/_local/clock"): lambda _: self._clock_state(),
            ("POST", "/_local/clock"): self._advance_clock,
            ("POST", "/_local/faults"): self._inject_fault,
            ("DELETE", "/_local/faults"): self._clear_faults,
        }
        for path, page_file in page_files().items():
            self._routes["GET", path] = _constant(page_file)

    def handle(self, method: str, path: str, body: bytes) -> HttpResponse:
        """The answer to one local request."""
        action = self._routes.get((method, path))
        if action is not None:
            return action(body)
        if any(known == path for _, known in self._routes):
            return _json(405, {"message": "Method Not Allowed"})
        return _json(404, {"message": "Not Found"})

    def _empty_outbox(self, _: bytes) -> HttpResponse:
        self._outbox.clear()
        return _json(200, {"messages": []})

    def _clock_state(self) -> HttpResponse:
        return _json(200, {"now": self._clock(), "offset_seconds": self._clock.offset_seconds})

    def _advance_clock(self, body: bytes) -> HttpResponse:
        seconds = _object(body).get("advance_seconds")
        if (
            not isinstance(seconds, int | float)
            or isinstance(seconds, bool)
            or not math.isfinite(seconds)
            or seconds < 0
        ):
            return _json(400, {"message": "advance_seconds must be a number >= 0"})
        self._clock.advance(float(seconds))
        return self._clock_state()

    def _inject_fault(self, body: bytes) -> HttpResponse:
        fault = _object(body)
        operation, code = fault.get("operation"), fault.get("code")
        status = fault.get("status", 400)
        if not (isinstance(operation, str) and isinstance(code, str) and isinstance(status, int)):
            return _json(400, {"message": 'expected {"operation": "sns.Publish", "code": "..."}'})
        try:
            self._faults.inject(operation, code, status)
        except ValueError as error:
            return _json(400, {"message": str(error)})
        return _json(200, {"operation": operation, "code": code, "status": status})

    def _clear_faults(self, _: bytes) -> HttpResponse:
        self._faults.clear()
        return _json(200, {"status": "cleared"})


def _constant(answer: HttpResponse) -> Action:
    return lambda _: answer


def _object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _json(status: int, body: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(body).encode())
