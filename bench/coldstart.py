"""Item 2: cold-start cost, as fresh-process import time of each handler over a boto3 baseline.

Each sample is a new interpreter that times, from its first statement, either
- the handler: import the handler module, read the settings from the environment, build the
  boto3 clients that handler uses through the handlers' own `Runtime`, and validate one typical
  body (so an import deferred to the first request is still counted); or
- the baseline: import boto3 and create the same clients, and nothing else.
Interpreter start-up, which both pay alike, is outside the timer. Samples of the variants are
interleaved so a change in machine load falls on all of them alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .environment import REGION, isolate_from_aws
from .stats import median, ratio

TARGET_RATIO = 1.3

CLIENTS = {
    "request_token": ("dynamodb", "kms", "sns"),
    "verify_token": ("dynamodb", "kms"),
    "cancel_token": ("dynamodb",),
}
"""The clients each handler builds on its first request (its `Container`'s collaborators) on
the default (SMS) path: the sender makes SES's client only for an email."""

_FIRST_BODY = {
    "request_token": (
        "models.parse_body(models.RequestTokenBody, "
        '{"user_id": "u", "destination": "+14155550123"})'
        '\nmodels.parse_phone_number("+14155550123")'
    ),
    "verify_token": 'models.parse_body(models.VerifyTokenBody, {"user_id": "u", "code": "123456"})',
    "cancel_token": 'models.parse_body(models.CancelTokenBody, {"user_id": "u"})',
}
"""What the handler checks before its first AWS call, on the default (SMS) path."""

_RUNTIME_PARTS = {"dynamodb": "store", "kms": "keyring", "sns": "sender._sns"}

_POLICIES = {
    "request_token": ("policy", "fraud_guard"),
    "verify_token": ("policy",),
    "cancel_token": (),
}
"""The policy models each handler reads on its first request; each is validated on first use."""


def _parts(module: str) -> str:
    parts = sorted({_RUNTIME_PARTS[client] for client in CLIENTS[module]})
    parts += [f"settings.{policy}" for policy in _POLICIES[module]]
    return "\n".join(f"container.{p}" for p in parts)


_HANDLER_PROGRAM = """
import time
_start = time.perf_counter()
import importlib
module = importlib.import_module("otp_service.handlers.{module}")
from otp_service.handlers.container import from_environment
container = from_environment()
{parts}
from otp_service.handlers import models
{first_body}
print(time.perf_counter() - _start)
"""

_RESTORED_PROGRAM = """
import importlib
module = importlib.import_module("otp_service.handlers.{module}")
import time
_start = time.perf_counter()
from otp_service.handlers.container import from_environment
container = from_environment()
{parts}
from otp_service.handlers import models
{first_body}
print(time.perf_counter() - _start)
"""
"""With SnapStart, Lambda snapshots the function after its init phase (the handler's import):
a restored container still pays for what the first request builds (settings, clients, first
validation), and this times only that. The restore itself happens inside Lambda, not here."""

_BASELINE_PROGRAM = """
import time
_start = time.perf_counter()
import boto3
session = boto3.session.Session()
{clients}
print(time.perf_counter() - _start)
"""

_FUNCTION_ENVIRONMENT = {
    "PYDANTIC_DISABLE_PLUGINS": "__all__",  # as the component sets it (components/functions.py)
    "OTP_TABLE_NAME": "otp-codes",
    "OTP_MAC_KEY_ID": "alias/otp-mac",
    "OTP_BRAND_NAME": "Acme",
    "OTP_EMAIL_SENDER": "no-reply@example.com",
}


@dataclass
class ColdStart:
    """Median fresh-process times of one handler and of its boto3-only baseline."""

    handler: str
    clients: list[str]
    runs: int
    handler_median_ms: float
    baseline_median_ms: float
    ratio: float
    target: float
    meets_target: bool
    handler_samples_ms: list[float]
    baseline_samples_ms: list[float]
    restored_median_ms: float = 0.0
    """SnapStart: the first request's own work in a container restored after the import."""
    restored_ratio: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """The result as plain JSON values."""
        return asdict(self)


def handler_program(module: str) -> str:
    """The timed program for one handler."""
    return _HANDLER_PROGRAM.format(
        module=module,
        parts=_parts(module),
        first_body=_FIRST_BODY[module],
    )


def restored_program(module: str) -> str:
    """The timed program for one handler restored from a SnapStart snapshot."""
    return _RESTORED_PROGRAM.format(
        module=module,
        parts=_parts(module),
        first_body=_FIRST_BODY[module],
    )


def baseline_program(module: str) -> str:
    """The timed program for one handler's baseline."""
    clients = "\n".join(f"session.client({c!r})" for c in CLIENTS[module])
    return _BASELINE_PROGRAM.format(clients=clients)


def run_fresh_process(program: str, environment: dict[str, str], cwd: Path) -> float:
    """Run `program` in a new interpreter; the seconds it printed last, in milliseconds."""
    result = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"fresh-process sample failed:\n{result.stderr.strip()[-2000:]}")
    return float(result.stdout.strip().splitlines()[-1]) * 1000


def measure_cold_starts(runs: int, cwd: Path) -> list[ColdStart]:
    """`runs` interleaved fresh-process samples per handler and per baseline; one warm-up each."""
    environment = isolate_from_aws(dict(os.environ))
    environment.update(_FUNCTION_ENVIRONMENT)
    environment["AWS_DEFAULT_REGION"] = REGION
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    programs = {
        (module, kind): program
        for module in CLIENTS
        for kind, program in (
            ("handler", handler_program(module)),
            ("restored", restored_program(module)),
            ("baseline", baseline_program(module)),
        )
    }
    for program in programs.values():  # byte-compile once, so no sample pays for it
        run_fresh_process(program, environment, cwd)
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in programs}
    for _ in range(runs):
        for key, program in programs.items():
            samples[key].append(run_fresh_process(program, environment, cwd))
    results = []
    for module, clients in CLIENTS.items():
        handler = samples[(module, "handler")]
        baseline = samples[(module, "baseline")]
        restored = samples[(module, "restored")]
        measured = ratio(median(handler), median(baseline))
        results.append(
            ColdStart(
                handler=module,
                clients=list(clients),
                runs=runs,
                handler_median_ms=round(median(handler), 1),
                baseline_median_ms=round(median(baseline), 1),
                ratio=measured,
                target=TARGET_RATIO,
                meets_target=measured <= TARGET_RATIO,
                handler_samples_ms=[round(s, 1) for s in handler],
                baseline_samples_ms=[round(s, 1) for s in baseline],
                restored_median_ms=round(median(restored), 1),
                restored_ratio=ratio(median(restored), median(baseline)),
            )
        )
    return results


PROFILED_PACKAGES = (
    "pydantic",
    "email_validator",
    "phonenumbers",
    "aws_lambda_powertools",
)
"""The third-party packages the handlers import on top of what boto3 brings."""


def import_profile(module: str, cwd: Path) -> dict[str, float]:
    """Milliseconds a handler's import spends per heavy package, once boto3 is loaded.

    From `python -X importtime`: each package's cumulative time where it is first imported,
    plus the self time of the handler modules themselves (pydantic model building shows here).
    """
    environment = isolate_from_aws(dict(os.environ))
    environment.update(_FUNCTION_ENVIRONMENT)
    program = f"import boto3\nimport otp_service.handlers.{module}\n"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", program],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        check=True,
    )
    profile = dict.fromkeys(PROFILED_PACKAGES, 0.0)
    profile["handler modules (self)"] = 0.0
    profile["total"] = 0.0
    after_boto3 = False
    for line in result.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue
        own, cumulative, name = int(fields[0]), int(fields[1]), fields[2].strip()
        if name == "boto3":
            after_boto3 = True
        elif after_boto3 and name in profile:
            profile[name] += cumulative / 1000
        elif after_boto3 and name.startswith("otp_service.handlers"):
            profile["handler modules (self)"] += own / 1000
            if name == f"otp_service.handlers.{module}":
                profile["total"] = cumulative / 1000
    return {name: round(ms, 1) for name, ms in profile.items()}


if __name__ == "__main__":
    print(json.dumps({m: import_profile(m, Path.cwd()) for m in CLIENTS}, indent=1))
