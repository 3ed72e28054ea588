"""Every test runs with fake AWS credentials and region, set before any client exists.

Each test gets its tier's marker from the folder it lives in, so `pytest -m unit` (or
`python3 dev.py test -m unit`) selects a tier and a new test file needs no decorator.
"""

import os
from pathlib import Path

import pytest

for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "POWERTOOLS_SERVICE_NAME": "otp",
        "POWERTOOLS_DEV": "false",
    }
)

pytest_plugins = (
    "tests.support.moto_service",
    "tests.support.pulumi_mocks",
    "tests.support.output_capture",
)

TIERS = {
    "unit": "unit",
    "handlers": "integration",
    "e2e": "e2e",
    "infra": "infra",
    "security": "security",
}
"""Folder under tests/ -> the tier marker its tests carry (declared in pyproject.toml)."""

_TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.relative_to(_TESTS).parts[0]
        if folder not in TIERS:
            raise pytest.UsageError(f"tests/{folder}/ has no tier: add it to TIERS in {__file__}")
        item.add_marker(TIERS[folder])
