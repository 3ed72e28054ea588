"""The security suite: the handlers' moto fixture, hypothesis profiles and output capture."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings

from otp_service.handlers.observability import logger
from tests.handlers.conftest import FakeClock, Reply, Service, clock, policy, service
from tests.infra.conftest import pytest_configure, run_stack

__all__ = [
    "Capture",
    "FakeClock",
    "Reply",
    "Service",
    "capture",
    "clock",
    "policy",
    "pytest_configure",
    "run_stack",
    "service",
]

# One moto-backed service serves a whole property run: each example checks what it changed.
_SHARED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
settings.register_profile(
    "security", max_examples=30, deadline=None, suppress_health_check=_SHARED, derandomize=False
)
settings.register_profile("security-ci", parent=settings.get_profile("security"), derandomize=True)
settings.register_profile(
    "security-deep", parent=settings.get_profile("security"), max_examples=500
)

PROFILE = os.environ.get(
    "OTP_SECURITY_PROFILE", "security-ci" if os.environ.get("CI") else "security"
)
"""`security` locally, a fixed seed in CI, `security-deep` for a long hunt by hand."""

FUZZ = settings(settings.get_profile(PROFILE))
"""The settings every property test in this suite runs under."""


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
