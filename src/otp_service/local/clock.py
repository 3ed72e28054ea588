"""The local stack's clock: real time plus an offset a test can move (`POST /_local/clock`)."""

from __future__ import annotations

import threading
import time


class LocalClock:
    """Epoch seconds as the handlers see them; moving it forward is local-only."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return time.time() + self._offset

    @property
    def offset_seconds(self) -> float:
        """How far ahead of real time the clock runs."""
        return self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward; it never goes back, as no real clock would."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds
