"""Fraud Guard's tests reuse the handlers' moto-backed service."""

from tests.handlers.conftest import FakeClock, Reply, Service, clock, policy, service

__all__ = ["FakeClock", "Reply", "Service", "clock", "policy", "service"]
