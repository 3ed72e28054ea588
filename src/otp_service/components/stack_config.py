"""Read `OtpServiceArgs` from stack configuration (`pulumi config set codeLength 8`)."""

from __future__ import annotations

from typing import Any, cast

import pulumi

from .options import AuthMode, InvalidArgumentError, OtpServiceArgs, camel_case

_INTEGER_KEYS = (
    "code_length",
    "code_ttl_seconds",
    "max_verify_attempts",
    "resend_cooldown_seconds",
    "max_sends_per_window",
    "send_window_seconds",
    "verification_retention_days",
    "throttle_burst_limit",
    "api_key_quota_per_day",
    "waf_rate_limit_per_ip",
    "log_retention_days",
    "sms_monthly_spend_limit_usd",
    "lockout_alarm_threshold",
    "memory_size_mb",
    "mac_key_generation",
    "powertools_layer_version",
)
_NUMBER_KEYS = ("throttle_rate_limit",)
_BOOLEAN_KEYS = (
    "waf_enabled",
    "deletion_protection",
    "manage_sms_preferences",
    "manage_api_gateway_account",
)
_STRING_KEYS = ("brand_name", "email_sender", "sms_sender_id", "alarm_email")


def args_from_config(config: pulumi.Config) -> OtpServiceArgs:
    """Every key that is set, typed; unset keys keep the component's defaults."""
    values: dict[str, Any] = {}
    for key in _INTEGER_KEYS:
        values[key] = config.get_int(camel_case(key))
    for key in _NUMBER_KEYS:
        values[key] = config.get_float(camel_case(key))
    for key in _BOOLEAN_KEYS:
        values[key] = config.get_bool(camel_case(key))
    for key in _STRING_KEYS:
        values[key] = config.get(camel_case(key)) or None
    values["allowed_country_codes"] = _country_codes(config)
    values["auth_mode"] = _auth_mode(config)
    return cast(OtpServiceArgs, {key: value for key, value in values.items() if value is not None})


def _country_codes(config: pulumi.Config) -> list[str] | None:
    codes = config.get_object("allowedCountryCodes")
    if codes is None:
        return None
    if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
        raise InvalidArgumentError(
            'allowedCountryCodes must be a list of calling codes as strings, e.g. ["1", "44"]'
        )
    return codes


def _auth_mode(config: pulumi.Config) -> AuthMode | None:
    mode = config.get("authMode")
    if mode is None:
        return None
    try:
        return AuthMode(mode)
    except ValueError:
        allowed = " or ".join(repr(m.value) for m in AuthMode)
        raise InvalidArgumentError(f"authMode must be {allowed}, got {mode!r}") from None
