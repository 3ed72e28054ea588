"""A cold start builds only the validators its route uses (bench item 2 measures the time).

Building a pydantic model's validator is most of what `handlers/settings.py` cost at import;
each model is now built on its first validation. Run in a fresh interpreter: in this one, other
tests have built them all already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

_PROGRAM = """
import json

import otp_service.handlers.cancel_token
import otp_service.handlers.get_verification
import otp_service.handlers.request_token
import otp_service.handlers.verify_token
from otp_service.handlers import models
from otp_service.handlers.container import from_environment
from otp_service.handlers.fraud import FraudPolicy
from otp_service.handlers.settings import Policy

MODELS = (
    Policy, FraudPolicy, models.RequestTokenBody, models.VerifyTokenBody, models.CancelTokenBody
)


def built():
    return sorted(model.__name__ for model in MODELS if model.__pydantic_complete__)


stages = {"imported": built()}
container = from_environment()
stages["settings read"] = built()
models.parse_body(models.CancelTokenBody, {"user_id": "u-1"})
stages["cancel body parsed"] = built()
assert container.settings.policy.code_length == 8
stages["policy read"] = built()
print(json.dumps(stages))
"""


def test_importing_the_handlers_and_reading_settings_builds_no_validator() -> None:
    environment = {
        **os.environ,
        "OTP_TABLE_NAME": "otp-table",
        "OTP_POLICY": json.dumps({"codeLength": 8}),
        "OTP_FRAUD_GUARD": json.dumps({"minSends": 30}),
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    run = subprocess.run(
        [sys.executable, "-c", _PROGRAM],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {
        "imported": [],
        "settings read": [],
        "cancel body parsed": ["CancelTokenBody"],
        "policy read": ["CancelTokenBody", "Policy"],
    }
