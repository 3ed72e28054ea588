"""Fake AWS credentials and region, set before any boto3 client exists: nothing leaves here."""

from __future__ import annotations

import os

REGION = "us-east-1"

FAKE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "POWERTOOLS_SERVICE_NAME": "otp",
    "POWERTOOLS_DEV": "false",
}
_UNSET = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def isolate_from_aws(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Point `environ` (default `os.environ`) at fake credentials; return it."""
    target = os.environ if environ is None else environ
    for name in _UNSET:
        target.pop(name, None)
    target.update(FAKE_AWS_ENVIRONMENT)
    return dict(target)
