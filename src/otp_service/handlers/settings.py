"""The function's configuration, read once per container from its environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from .fraud import FraudPolicy
    from .messages import Autofill

ENV_TABLE_NAME = "OTP_TABLE_NAME"
ENV_MAC_KEY_ID = "OTP_MAC_KEY_ID"
ENV_RETIRED_MAC_KEY_ID = "OTP_RETIRED_MAC_KEY_ID"
ENV_BRAND_NAME = "OTP_BRAND_NAME"
ENV_EMAIL_SENDER = "OTP_EMAIL_SENDER"
ENV_SMS_SENDER_ID = "OTP_SMS_SENDER_ID"
ENV_SMS_ORIGINATION_NUMBER = "OTP_SMS_ORIGINATION_NUMBER"
ENV_POLICY = "OTP_POLICY"
ENV_EVENTS_TOPIC_ARN = "OTP_EVENTS_TOPIC_ARN"
ENV_FRAUD_GUARD = "OTP_FRAUD_GUARD"
ENV_WEB_OTP_DOMAIN = "OTP_WEB_OTP_DOMAIN"
ENV_ANDROID_APP_HASH = "OTP_ANDROID_APP_HASH"
ENV_RECEIPTS_CONFIGURATION_SET = "OTP_RECEIPTS_CONFIGURATION_SET"

_E164_SYNTAX = re.compile(r"\+[1-9][0-9]{6,14}")
_EMAIL_SYNTAX = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class Policy(BaseModel):
    """The OTP policy: the contract's configuration keys, their defaults and their ranges."""

    # Built on first validation: a function that never reads its policy never pays for it.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    code_length: Annotated[int, Field(alias="codeLength", ge=6, le=10)] = 6
    code_ttl_seconds: Annotated[int, Field(alias="codeTtlSeconds", ge=30, le=600)] = 300
    max_verify_attempts: Annotated[int, Field(alias="maxVerifyAttempts", ge=1, le=10)] = 5
    resend_cooldown_seconds: Annotated[int, Field(alias="resendCooldownSeconds", ge=0, le=3600)] = (
        30
    )
    max_sends_per_window: Annotated[int, Field(alias="maxSendsPerWindow", ge=1, le=100)] = 5
    send_window_seconds: Annotated[int, Field(alias="sendWindowSeconds", ge=60, le=86400)] = 3600
    verification_retention_days: Annotated[
        int, Field(alias="verificationRetentionDays", ge=1, le=90)
    ] = 7
    allowed_country_codes: Annotated[
        tuple[str, ...], Field(alias="allowedCountryCodes", min_length=1, max_length=300)
    ] = ("1",)
    test_destinations: Annotated[dict[str, str], Field(alias="testDestinations")] = {}
    """Destinations that get a fixed code and no message, for tests of a deployed stack."""

    @field_validator("test_destinations")
    @classmethod
    def _test_destinations(cls, destinations: dict[str, str]) -> dict[str, str]:
        for destination in destinations:
            if not (_E164_SYNTAX.fullmatch(destination) or _EMAIL_SYNTAX.fullmatch(destination)):
                raise ValueError(
                    "every key must be an E.164 phone number (+15555550100) or an email address"
                )
        # Email addresses match whatever their case, as request-token compares them.
        return {destination.lower(): code for destination, code in destinations.items()}

    @model_validator(mode="after")
    def _test_codes_have_the_code_length(self) -> Policy:
        for code in self.test_destinations.values():
            if not (code.isascii() and code.isdigit() and len(code) == self.code_length):
                raise ValueError(
                    f"testDestinations: every code must be {self.code_length} digits (codeLength)"
                )
        return self

    def test_code_for(self, destination: str) -> str | None:
        """The fixed code of a test destination; None for a real one."""
        return self.test_destinations.get(destination.lower())

    def is_test_destination(self, destination: str) -> bool:
        """Whether `destination` is a test destination: nothing is sent, events say `"test"`."""
        return self.test_code_for(destination) is not None

    @field_validator("allowed_country_codes")
    @classmethod
    def _calling_codes(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        if codes == ("*",):
            return codes
        for code in codes:
            if not (code.isascii() and code.isdigit() and 1 <= len(code) <= 3):
                raise ValueError('each entry must be a calling code of 1-3 digits, or ["*"] alone')
        return codes

    def allows_calling_code(self, calling_code: int) -> bool:
        """Whether SMS may go to numbers with this country calling code."""
        return (
            self.allowed_country_codes == ("*",) or str(calling_code) in self.allowed_country_codes
        )

    def to_env(self) -> str:
        """The policy as the JSON the functions read from `OTP_POLICY`."""
        return self.model_dump_json(by_alias=True)


@dataclass(frozen=True)
class Settings:
    """Everything a function needs to know about where it runs; nothing in here is secret.

    The component writes these variables from configuration it has already validated (`Policy`,
    `FraudPolicy`, `InfrastructureOptions`), so a cold start only reads them: the policy models
    are built on first use, by the routes that use them (cancel-token never does).
    """

    table_name: str
    mac_key_id: str | None = None
    """The KMS HMAC key the code MACs derive from; cancel-token needs none."""
    retired_mac_key_id: str | None = None
    """The previous generation's key, which verify-token still checks codes in flight under."""
    brand_name: str = "OTP"
    email_sender: str | None = None
    sms_sender_id: str | None = None
    sms_origination_number: str | None = None
    """The registered number SMS is sent from (`AWS.MM.SMS.OriginationNumber`)."""
    policy_json: str | None = None
    """`OTP_POLICY` as the component wrote it (`Policy.to_env`); None for the defaults."""
    events_topic_arn: str | None = None
    """The lifecycle events topic; only the events function publishes to it."""
    fraud_guard_json: str | None = None
    """`OTP_FRAUD_GUARD` as the component wrote it (`FraudPolicy.to_env`); None for defaults."""
    web_otp_domain: str | None = None
    android_app_hash: str | None = None
    receipts_configuration_set: str | None = None
    """The SES configuration set whose event destination carries email delivery receipts."""

    @cached_property
    def policy(self) -> Policy:
        """The OTP policy, validated on first use."""
        return Policy.model_validate_json(self.policy_json) if self.policy_json else Policy()

    @cached_property
    def fraud_guard(self) -> FraudPolicy:
        """Fraud Guard's thresholds, safe list and SMS budgets (`fraudGuard`), on first use."""
        # Imported here: only request-token reads it (verify and cancel never import Fraud Guard).
        from .fraud import FraudPolicy  # noqa: PLC0415

        if self.fraud_guard_json:
            return FraudPolicy.model_validate_json(self.fraud_guard_json)
        return FraudPolicy()

    @property
    def autofill(self) -> Autofill:
        """The SMS autofill lines (`webOtpDomain`, `androidAppHash`)."""
        from .messages import Autofill  # noqa: PLC0415 - request-token's alone, as above

        return Autofill(self.web_otp_domain, self.android_app_hash)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read the settings from an environment mapping."""
        table_name = env.get(ENV_TABLE_NAME)
        if not table_name:
            raise RuntimeError(f"{ENV_TABLE_NAME} is not set for this function")
        return cls(
            table_name=table_name,
            mac_key_id=env.get(ENV_MAC_KEY_ID) or None,
            retired_mac_key_id=env.get(ENV_RETIRED_MAC_KEY_ID) or None,
            brand_name=env.get(ENV_BRAND_NAME) or "OTP",
            email_sender=env.get(ENV_EMAIL_SENDER) or None,
            sms_sender_id=env.get(ENV_SMS_SENDER_ID) or None,
            events_topic_arn=env.get(ENV_EVENTS_TOPIC_ARN) or None,
            sms_origination_number=env.get(ENV_SMS_ORIGINATION_NUMBER) or None,
            web_otp_domain=env.get(ENV_WEB_OTP_DOMAIN) or None,
            android_app_hash=env.get(ENV_ANDROID_APP_HASH) or None,
            receipts_configuration_set=env.get(ENV_RECEIPTS_CONFIGURATION_SET) or None,
            policy_json=env.get(ENV_POLICY) or None,
            fraud_guard_json=env.get(ENV_FRAUD_GUARD) or None,
        )


@cache
def load_settings() -> Settings:
    """The container's settings, read from `os.environ` on first use."""
    return Settings.from_env(os.environ)
