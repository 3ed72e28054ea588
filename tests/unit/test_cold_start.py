"""A cold start imports only what its route uses and builds only its validators (bench item 2
measures the time).

Building a pydantic model's validator is most of what `handlers/settings.py` cost at import;
each model is now built on its first validation. verify-token and cancel-token import none of
request-token's modules (Fraud Guard, messages, senders, the lifecycle's decoding, the number
and address parsers). Run in fresh interpreters: this one has imported and built everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

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


_ENVIRONMENT = {
    "OTP_TABLE_NAME": "otp-table",
    "OTP_POLICY": json.dumps({"codeLength": 8}),
    "OTP_FRAUD_GUARD": json.dumps({"minSends": 30}),
    "AWS_DEFAULT_REGION": "us-east-1",
}

_REQUEST_TOKENS_OWN = {
    "email_validator",
    "phonenumbers",
    "otp_service.handlers.delivery",
    "otp_service.handlers.fraud",
    "otp_service.handlers.fraud_store",
    "otp_service.handlers.lifecycle",
    "otp_service.handlers.masking",
    "otp_service.handlers.messages",
    "otp_service.handlers.sending",
}
_OTHER_FUNCTIONS = {
    "otp_service.handlers.events",
    "otp_service.handlers.fraud_events",
    "otp_service.handlers.receipts",
    "otp_service.handlers.verifications",
}
MUST_NOT_IMPORT = {
    "cancel_token": _REQUEST_TOKENS_OWN | _OTHER_FUNCTIONS | {"otp_service.handlers.keys"},
    "verify_token": _REQUEST_TOKENS_OWN | _OTHER_FUNCTIONS,
    # Its first request loads the sender and the parser of its channel, not at import.
    "request_token": _OTHER_FUNCTIONS | {"email_validator", "phonenumbers"},
}
"""What importing each handler (the function's init phase) must leave out."""

_IMPORTED_PROGRAM = """
import importlib, json, sys
importlib.import_module("otp_service.handlers." + sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


def _run_fresh(program: str, *arguments: str) -> str:
    run = subprocess.run(
        [sys.executable, "-c", program, *arguments],
        env={**os.environ, **_ENVIRONMENT},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


@pytest.mark.parametrize("handler", sorted(MUST_NOT_IMPORT))
def test_a_handler_imports_nothing_another_route_needs(handler: str) -> None:
    imported = set(json.loads(_run_fresh(_IMPORTED_PROGRAM, handler)))
    assert f"otp_service.handlers.{handler}" in imported
    assert "pydantic" in imported  # the body's validation is kept
    assert imported & MUST_NOT_IMPORT[handler] == set()


_FROZEN_PROGRAM = """
import gc, importlib, json, sys
importlib.import_module("otp_service.handlers." + sys.argv[1])
print(json.dumps([gc.get_freeze_count(), len(gc.get_objects())]))
"""


@pytest.mark.parametrize("handler", sorted(MUST_NOT_IMPORT))
def test_a_handlers_import_leaves_the_cycle_collector_nothing_to_scan(handler: str) -> None:
    """What the init phase built is frozen: the first request's collections skip all of it."""
    frozen, tracked = json.loads(_run_fresh(_FROZEN_PROGRAM, handler))
    assert frozen > 10_000  # the modules, classes and validators of the import
    assert tracked < 100


def test_importing_the_handlers_and_reading_settings_builds_no_validator() -> None:
    assert json.loads(_run_fresh(_PROGRAM)) == {
        "imported": [],
        "settings read": [],
        "cancel body parsed": ["CancelTokenBody"],
        "policy read": ["CancelTokenBody", "Policy"],
    }
