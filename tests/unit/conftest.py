"""The rules over in-memory collaborators: no AWS emulator, no network, milliseconds per test."""

from __future__ import annotations

import pytest

from otp_service.handlers.settings import Policy
from tests.support.rules import Rules


@pytest.fixture
def policy() -> Policy:
    return Policy()


@pytest.fixture
def rules(policy: Policy) -> Rules:
    return Rules(policy)
