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
    "client": "unit",
    "client/test_local_stack.py": "e2e",
    "handlers": "integration",
    "fraud": "integration",
    "e2e": "e2e",
    "infra": "infra",
    "security": "security",
}
"""Folder (or file) under tests/ -> the tier marker its tests carry (declared in pyproject.toml).

The longest matching path wins, so one file can sit in another tier than its folder.
"""

_TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path.relative_to(_TESTS).as_posix()
        tier = next(
            (TIERS[p] for p in sorted(TIERS, key=len, reverse=True) if _under(path, p)), None
        )
        if tier is None:
            raise pytest.UsageError(
                f"tests/{path} has no tier: add its folder to TIERS in {__file__}"
            )
        item.add_marker(tier)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(f"{prefix}/")
