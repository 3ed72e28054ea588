"""What otp-local prints: the route table, the ready line, one line per request, each message."""

from __future__ import annotations

import threading
from typing import TextIO

from .outbox import CapturedMessage, EventLog, Outbox
from .routes import DeclaredApi


class Console:
    """Line-at-a-time output that threads cannot interleave."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.outbox = Outbox(announce=self.message)
        self.events = EventLog()

    def line(self, text: str) -> None:
        """Print one line and flush it, so a reader of a pipe sees it at once."""
        with self._lock:
            self._stream.write(text + "\n")
            self._stream.flush()

    def ready(
        self, project: str, stack: str, api: DeclaredApi, emulator_url: str, url: str
    ) -> None:
        """The route table, then the line with the URL that says the server is up."""
        rows = [("METHOD", "PATH", "FUNCTION", "HANDLER")] + [
            (route.method, route.path, route.function.name, route.function.handler)
            for route in api.routes
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        self.line(
            f"otp-local: project {project}, stack {stack}, AWS emulator (moto) at {emulator_url}"
        )
        for row in rows:
            self.line(
                "  "
                + "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
                + "  "
                + row[3]
            )
        self.line("  GET/DELETE /_local/outbox, GET /_local/events, GET /_local/health")
        self.line(f"otp-local: the outbox, live in a browser: {url}/_local/")
        self.line(f"otp-local: serving on {url} (Ctrl-C to stop)")

    def request(
        self, method: str, path: str, status: int, elapsed_ms: float, request_id: str
    ) -> None:
        """One access-log line."""
        self.line(f"{method} {path} {status} {elapsed_ms:.1f}ms request_id={request_id}")

    def message(self, message: CapturedMessage) -> None:
        """A captured SMS or email, as the recipient would read it."""
        body = message.body.replace("\n", "\n    ")
        self.line(
            f"[outbox] {message.channel} to {message.destination} at {message.sent_at}:\n    {body}"
        )
