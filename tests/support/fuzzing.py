"""Hypothesis profiles for the property tests of the security suite."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

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
