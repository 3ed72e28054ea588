"""Everything the handlers write (log lines, EMF metrics on stdout), captured for the leak tests."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from otp_service.handlers.observability import logger


@dataclass
class Capture:
    """Everything the service wrote: Powertools log lines, stdout/stderr (EMF metrics)."""

    log: io.StringIO
    capfd: pytest.CaptureFixture[str]
    seen: list[str] = field(default_factory=list)

    def text(self) -> str:
        """All output so far, including what earlier calls already read."""
        out = self.capfd.readouterr()
        self.seen.append(self.log.getvalue() + out.out + out.err)
        self.log.seek(0)
        self.log.truncate()
        return "".join(self.seen)


@pytest.fixture
def capture(capfd: pytest.CaptureFixture[str]) -> Iterator[Capture]:
    """Redirect the Powertools logger's stream, which was bound to stderr at import time."""
    log = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(log)
    try:
        yield Capture(log, capfd)
    finally:
        handler.setStream(previous)
