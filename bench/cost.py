"""Item 6: cost per million request+verify pairs, from the stack's configuration and measurements.

Inputs, none of them typed in here:
- memory and architecture: the stack's `memorySizeMb` (else the component's default) and the
  architecture the component packages for;
- duration: the warm handler p50s from item 3, each rounded up to Lambda's 1 ms billing step;
- DynamoDB write units and log bytes: counted per operation in item 1;
- off the request path (item 1's `count_off_path`): the events function's invocations, billed
  milliseconds, write units and lifecycle-event publishes for one SMS pair at low traffic (one
  stream batch per write round trip), and the receipts function's writes and invocations as
  its code makes them;
- SMS message parts: the rendered message's length and alphabet (GSM-7 or UCS-2);
- prices: `bench/prices.py`, each with its source.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from otp_service.components.options import InfrastructureOptions
from otp_service.components.packaging import LAMBDA_ARCHITECTURE
from otp_service.handlers.messages import TEMPLATES, render
from otp_service.handlers.settings import Policy

from . import prices

PAIRS = 1_000_000
_LOG_GB = 1024**3
_PROJECT = "otp-service"

# GSM 03.38: the basic set (1 septet) and the extension set (2 septets, escape + char).
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class FunctionConfig:
    """What the stack configures for every function."""

    stack: str
    memory_mb: int
    architecture: str
    brand_name: str
    policy: Policy


def stack_function_config(repo: Path, stack: str) -> FunctionConfig:
    """Memory, architecture, brand and policy as `Pulumi.<stack>.yaml` sets them."""
    config = yaml.safe_load((repo / f"Pulumi.{stack}.yaml").read_text()).get("config", {})
    values = {
        key.removeprefix(f"{_PROJECT}:"): value
        for key, value in config.items()
        if key.startswith(f"{_PROJECT}:")
    }
    infrastructure = InfrastructureOptions.model_validate(
        {k: v for k, v in values.items() if k in _aliases(InfrastructureOptions)}
    )
    policy = Policy.model_validate({k: v for k, v in values.items() if k in _aliases(Policy)})
    return FunctionConfig(
        stack=stack,
        memory_mb=infrastructure.memory_size_mb,
        architecture=LAMBDA_ARCHITECTURE,
        brand_name=infrastructure.brand_name,
        policy=policy,
    )


def _aliases(model: Any) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def sms_parts(text: str) -> tuple[int, str]:
    """How many billed parts an SMS takes, and its encoding."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text):
        septets = sum(2 if c in _GSM_EXTENDED else 1 for c in text)
        return (1 if septets <= 160 else math.ceil(septets / 153)), "GSM-7"
    units = len(text.encode("utf-16-le")) // 2
    return (1 if units <= 70 else math.ceil(units / 67)), "UCS-2"


def sms_parts_by_language(config: FunctionConfig) -> dict[str, dict[str, Any]]:
    """Parts per rendered SMS in each supported language, with the stack's brand and policy."""
    policy = config.policy
    code = "9" * policy.code_length
    parts = {}
    for language in TEMPLATES:
        text = render("sms", language, config.brand_name, code, policy.code_ttl_seconds).body
        count, encoding = sms_parts(text)
        parts[language] = {"characters": len(text), "encoding": encoding, "parts": count}
    return parts


@dataclass(frozen=True)
class OffPath:
    """What one pair costs off the request path (none, unless measured)."""

    invocations: int = 0
    billed_ms: int = 0
    write_units: int = 0
    log_bytes: int = 0
    sns_publishes: int = 0


@dataclass
class PairCost:
    """USD per million request+verify pairs, by line item."""

    scenario: str
    api_gateway: float
    lambda_requests: float
    lambda_duration: float
    dynamodb_writes: float
    cloudwatch_logs: float
    event_publishes: float
    delivery: float
    total: float

    def as_json(self) -> dict[str, Any]:
        """The cost as plain JSON values."""
        return asdict(self)


def pair_costs(
    config: FunctionConfig,
    request_ms: float,
    verify_ms: float,
    write_units_per_pair: int,
    log_bytes_per_pair: int,
    sms_parts_en: int,
    off_path: OffPath = OffPath(),
) -> list[PairCost]:
    """The pair's cost without delivery, with a US SMS (English), and with an email.

    `write_units_per_pair` and `log_bytes_per_pair` are the request path's; `off_path` adds
    what the pair makes the stream and receipts functions do.
    """
    gb_second = prices.LAMBDA_GB_SECOND[config.architecture].usd
    billed_ms = math.ceil(request_ms) + math.ceil(verify_ms) + off_path.billed_ms
    billed_seconds = billed_ms / 1000
    write_units_per_pair += off_path.write_units
    log_bytes_per_pair += off_path.log_bytes
    base = {
        "api_gateway": 2 * prices.API_GATEWAY_REST_REQUEST.usd * PAIRS,
        "lambda_requests": (2 + off_path.invocations) * prices.LAMBDA_REQUEST.usd * PAIRS,
        "lambda_duration": billed_seconds * config.memory_mb / 1024 * gb_second * PAIRS,
        "dynamodb_writes": write_units_per_pair * prices.DYNAMODB_WRITE_REQUEST_UNIT.usd * PAIRS,
        "cloudwatch_logs": log_bytes_per_pair
        / _LOG_GB
        * prices.CLOUDWATCH_LOGS_INGESTION_GB.usd
        * PAIRS,
        "event_publishes": off_path.sns_publishes * prices.SNS_PUBLISH.usd * PAIRS,
    }
    sms = sms_parts_en * (prices.SMS_US_MESSAGE_PART.usd + prices.SMS_US_CARRIER_FEE.usd) * PAIRS
    email = prices.SES_EMAIL.usd * PAIRS
    rows = []
    for scenario, delivery in (
        ("without SMS (AWS infrastructure only)", 0.0),
        ("with SMS (US, English, toll-free carrier fee)", sms),
        ("with email (SES) instead", email),
    ):
        items = {name: round(usd, 2) for name, usd in base.items()}
        total = sum(base.values()) + delivery
        rows.append(PairCost(scenario, **items, delivery=round(delivery, 2), total=round(total, 2)))
    return rows
