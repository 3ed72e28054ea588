"""The component's arguments, their defaults, and their validation into plain settings."""

import difflib
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, NotRequired, TypedDict

import pulumi
from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..handlers.fraud import FraudPolicy
from ..handlers.messages import GSM7_SEGMENT, TEMPLATES, Autofill, render, sms_segments
from ..handlers.settings import Policy

LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)  # fmt: skip
"""The retention periods CloudWatch Logs accepts."""

E164_PATTERN = r"\+[1-9][0-9]{6,14}"
"""A phone number in E.164 form, as SNS takes an origination number."""
_HOST_NAME = re.compile(
    r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)
"""A DNS host name of two labels or more whose last label is not numeric (so no IP address)."""


class AuthMode(StrEnum):
    """How callers of the API authenticate."""

    IAM = "iam"
    """Every route needs a SigV4 signature from a principal allowed `execute-api:Invoke`."""
    API_KEY = "apiKey"
    """Every route needs an `x-api-key` header from the usage plan's key."""


class Environment(StrEnum):
    """What a stack is for; a production stack refuses test destinations unless allowed."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


class FraudGuardArgs(TypedDict):
    """Fraud Guard's thresholds, safe list and SMS budgets; every key is optional."""

    enabled: NotRequired[bool]
    """Block pumped prefixes and enforce the SMS budgets (on by default)."""
    window_seconds: NotRequired[int]
    """Window over which each prefix's sends and verifications are counted; divides a day."""
    min_sends: NotRequired[int]
    """Sends in a window before a four-digit prefix's conversion is judged (x4 per digit fewer)."""
    min_conversion: NotRequired[float]
    """A judged prefix verifying fewer than this share of its sends is blocked, 0-1."""
    block_seconds: NotRequired[int]
    """The first block's length; each remembered repeat offence doubles it."""
    max_block_seconds: NotRequired[int]
    """The longest block."""
    offence_memory_seconds: NotRequired[int]
    """An offence this long after the previous one counts as a first offence again."""
    velocity_multiple: NotRequired[float]
    """A country sending this multiple of its previous window's sends is surging."""
    velocity_min_sends: NotRequired[int]
    """Sends in a window below which a country never surges."""
    probation_sends: NotRequired[int]
    """Unverified sends that block an unproven prefix in a surge, or a past offender."""
    unproven_sends: NotRequired[int]
    """Sends in a UTC day, none verified, that block a prefix no code ever verified under."""
    handset_memory_seconds: NotRequired[int]
    """How long a number that verified a code passes range blocks (90 days); 0 turns it off."""
    safe_list: NotRequired[list[str]]
    """E.164 prefixes or numbers (`+4479`, `+447911123456`) that are never blocked."""
    daily_budget: NotRequired[int]
    """SMS per UTC day for the whole service; past it every SMS request is refused."""
    country_daily_budgets: NotRequired[dict[str, int]]
    """SMS per UTC day per calling code (`{"44": 2000}`)."""


class OtpServiceArgs(TypedDict):
    """Arguments of `OtpService`; every key is optional and named in camelCase in config and schema.

    Values are plain, not `Input`s, where the component must read them while it is being built:
    to validate them (with the key named in the error) or to decide which resources exist.
    """

    code_length: NotRequired[int]
    """Digits per code, 6-10."""
    code_ttl_seconds: NotRequired[int]
    """Code lifetime in seconds, 30-600."""
    max_verify_attempts: NotRequired[int]
    """Failed verifications per user before the pending code is burned, 1-10."""
    resend_cooldown_seconds: NotRequired[int]
    """Minimum gap in seconds between two sends to one user."""
    max_sends_per_window: NotRequired[int]
    """Sends per user and per destination within the send window."""
    send_window_seconds: NotRequired[int]
    """Window in seconds for the send limit and the failed-attempt count."""
    allowed_country_codes: NotRequired[list[str]]
    """Calling codes SMS may go to; `["*"]` allows all."""
    test_destinations: NotRequired[dict[str, str]]
    """Destinations mapped to a fixed code: nothing is sent to them (tests of a deployed stack)."""
    verification_retention_days: NotRequired[int]
    """Days `GET /verifications/{id}` answers for a verification, 1-90."""
    brand_name: NotRequired[str]
    """Name shown in the SMS and email text, 1-40 characters."""
    email_sender: NotRequired[str]
    """Verified SES sender address; without it the email channel is off and SES is not granted."""
    sms_sender_id: NotRequired[str]
    """Alphanumeric SMS sender ID (1-11 characters) where the destination country supports it."""
    auth_mode: NotRequired[AuthMode]
    """Caller authorization: IAM (SigV4, the default) or an API key with a usage plan."""
    throttle_rate_limit: NotRequired[int]
    """Stage-wide steady-state request rate per second."""
    throttle_burst_limit: NotRequired[int]
    """Stage-wide burst of requests."""
    api_key_quota_per_day: NotRequired[int]
    """Requests per day for the API key's usage plan (API-key mode only)."""
    waf_enabled: NotRequired[bool]
    """Attach a WAFv2 web ACL with a per-IP rate-based rule to the stage."""
    waf_rate_limit_per_ip: NotRequired[int]
    """Requests per IP in five minutes before WAF blocks that IP."""
    log_retention_days: NotRequired[int]
    """Retention of every log group, one of the values CloudWatch Logs accepts."""
    deletion_protection: NotRequired[bool]
    """DynamoDB deletion protection."""
    alarm_email: NotRequired[pulumi.Input[str]]
    """Address subscribed to the alarm topic (it must confirm the subscription)."""
    sms_monthly_spend_limit_usd: NotRequired[int]
    """The account's monthly SMS spend limit in USD; the spend alarm fires at 80 % of it."""
    manage_sms_preferences: NotRequired[bool]
    """Set the account-wide SMS preferences (spend limit, Transactional, delivery-status logs)."""
    manage_api_gateway_account: NotRequired[bool]
    """Set the account-wide API Gateway CloudWatch role that access logging needs."""
    lockout_alarm_threshold: NotRequired[int]
    """Lockouts in five minutes that raise the possible-attack alarm."""
    memory_size_mb: NotRequired[int]
    """Memory of each function in MB."""
    mac_key_generation: NotRequired[int]
    """Generation of the code-MAC key; raise it by one to rotate (the previous one is kept)."""
    sms_origination_number: NotRequired[str]
    """Registered origination number (E.164, toll-free or 10DLC) SMS is sent from; US needs one."""
    email_configuration_set: NotRequired[str]
    """The sender identity's default SES configuration set, which SES also authorizes sends on."""
    create_sms_delivery_log_groups: NotRequired[bool]
    """Create SNS's fixed-name SMS delivery-status log groups (off where they already exist)."""
    sms_delivery_receipts: NotRequired[bool]
    """Feed the account's SMS delivery-status logs to this stack as receipts (account-wide)."""
    reserved_concurrency: NotRequired[int]
    """Concurrent executions reserved for (and capping) each function; 0 reserves none."""
    environment: NotRequired[Environment]
    """What the stack is for: development (the default) or production."""
    allow_test_destinations_in_production: NotRequired[bool]
    """Let a production stack keep test destinations (refused otherwise)."""
    snap_start: NotRequired[bool]
    """Lambda SnapStart: the API calls a `live` alias of published, snapshotted versions."""
    fraud_guard: NotRequired[FraudGuardArgs]
    """Fraud Guard against SMS pumping: thresholds, safe list, daily SMS budgets."""
    web_otp_domain: NotRequired[str]
    """Host name the SMS code is bound to (last line `@example.com #123456`: WebOTP autofill)."""
    android_app_hash: NotRequired[str]
    """Android app's 11-character SMS Retriever hash, added to the SMS so the app reads it."""


class InfrastructureOptions(BaseModel):
    """The infrastructure options, with the defaults and ranges the component enforces."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    brand_name: Annotated[str, Field(alias="brandName", min_length=1, max_length=40)] = "OTP"
    email_sender: Annotated[str | None, Field(alias="emailSender")] = None
    sms_sender_id: Annotated[str | None, Field(alias="smsSenderId")] = None
    auth_mode: Annotated[AuthMode, Field(alias="authMode")] = AuthMode.IAM
    throttle_rate_limit: Annotated[int, Field(alias="throttleRateLimit", ge=1, le=10000)] = 10
    throttle_burst_limit: Annotated[int, Field(alias="throttleBurstLimit", ge=1, le=5000)] = 20
    api_key_quota_per_day: Annotated[
        int, Field(alias="apiKeyQuotaPerDay", ge=1, le=100_000_000)
    ] = 10_000
    waf_enabled: Annotated[bool, Field(alias="wafEnabled")] = False
    waf_rate_limit_per_ip: Annotated[
        int, Field(alias="wafRateLimitPerIp", ge=10, le=2_000_000_000)
    ] = 300
    log_retention_days: Annotated[int, Field(alias="logRetentionDays")] = 30
    deletion_protection: Annotated[bool, Field(alias="deletionProtection")] = True
    sms_monthly_spend_limit_usd: Annotated[
        int, Field(alias="smsMonthlySpendLimitUsd", ge=1, le=1_000_000)
    ] = 1
    manage_sms_preferences: Annotated[bool, Field(alias="manageSmsPreferences")] = False
    manage_api_gateway_account: Annotated[bool, Field(alias="manageApiGatewayAccount")] = False
    lockout_alarm_threshold: Annotated[
        int, Field(alias="lockoutAlarmThreshold", ge=1, le=100_000)
    ] = 10
    memory_size_mb: Annotated[int, Field(alias="memorySizeMb", ge=128, le=10240)] = 256
    mac_key_generation: Annotated[int, Field(alias="macKeyGeneration", ge=1, le=1000)] = 1
    sms_origination_number: Annotated[
        str | None, Field(alias="smsOriginationNumber", pattern=f"^{E164_PATTERN}$")
    ] = None
    email_configuration_set: Annotated[
        str | None,
        Field(alias="emailConfigurationSet", pattern=r"^[A-Za-z0-9_-]{1,64}$"),
    ] = None
    create_sms_delivery_log_groups: Annotated[bool, Field(alias="createSmsDeliveryLogGroups")] = (
        True
    )
    sms_delivery_receipts: Annotated[bool, Field(alias="smsDeliveryReceipts")] = False
    reserved_concurrency: Annotated[int, Field(alias="reservedConcurrency", ge=0, le=10_000)] = 0
    environment: Annotated[Environment, Field(alias="environment")] = Environment.DEVELOPMENT
    allow_test_destinations_in_production: Annotated[
        bool, Field(alias="allowTestDestinationsInProduction")
    ] = False
    snap_start: Annotated[bool, Field(alias="snapStart")] = False
    fraud_guard: Annotated[FraudPolicy, Field(alias="fraudGuard")] = FraudPolicy()
    web_otp_domain: Annotated[str | None, Field(alias="webOtpDomain")] = None
    android_app_hash: Annotated[str | None, Field(alias="androidAppHash")] = None

    @field_validator("web_otp_domain")
    @classmethod
    def _host_name(cls, host: str | None) -> str | None:
        if host is not None and not _HOST_NAME.fullmatch(host):
            raise ValueError(
                "must be a host name such as example.com or login.example.com "
                "(no scheme, port or path; not an IP address)"
            )
        return host.lower() if host is not None else None

    @field_validator("android_app_hash")
    @classmethod
    def _app_hash(cls, app_hash: str | None) -> str | None:
        # The first 9 bytes of a SHA-256 in base64: 11 characters, no padding.
        if app_hash is not None and not re.fullmatch(r"[A-Za-z0-9+/]{11}", app_hash):
            raise ValueError("must be the app's 11-character hash (A-Z a-z 0-9 + /)")
        return app_hash

    @property
    def autofill(self) -> Autofill:
        """The SMS autofill lines these options ask for."""
        return Autofill(self.web_otp_domain, self.android_app_hash)

    @field_validator("email_sender")
    @classmethod
    def _email_address(cls, sender: str | None) -> str | None:
        if sender is not None and not is_email_address(sender):
            raise ValueError("must be an email address (a verified SES identity)")
        return sender

    @field_validator("sms_sender_id")
    @classmethod
    def _sender_id(cls, sender_id: str | None) -> str | None:
        if sender_id is not None and not re.fullmatch(
            r"(?=.*[A-Za-z])[A-Za-z0-9]{1,11}", sender_id
        ):
            raise ValueError("must be 1-11 letters or digits, at least one of them a letter")
        return sender_id

    @field_validator("log_retention_days")
    @classmethod
    def _known_retention(cls, days: int) -> int:
        if days not in LOG_RETENTION_DAYS:
            raise ValueError("must be one of " + ", ".join(str(d) for d in LOG_RETENTION_DAYS))
        return days


@dataclass(frozen=True)
class ServiceOptions:
    """Validated arguments: the OTP policy the handlers enforce and the infrastructure options."""

    policy: Policy
    infrastructure: InfrastructureOptions
    alarm_email: pulumi.Input[str] | None


class InvalidArgumentError(ValueError):
    """An argument (or stack config key) is outside what the service accepts."""


def is_email_address(text: str) -> bool:
    """A light syntax check; SES and SNS verify the address for real."""
    return re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text) is not None


def camel_case(snake: str) -> str:
    """`code_ttl_seconds` -> `codeTtlSeconds`, the name used in config and the package schema."""
    head, *rest = snake.split("_")
    return head + "".join(part.capitalize() for part in rest)


def argument_names() -> frozenset[str]:
    """Every argument's camelCase name: the policy keys and the infrastructure options."""
    return frozenset(
        [field.alias or name for name, field in Policy.model_fields.items()]
        + [field.alias or name for name, field in InfrastructureOptions.model_fields.items()]
        + ["alarmEmail"]
    )


def resolve_options(args: OtpServiceArgs) -> ServiceOptions:
    """Validate `args`, raising `InvalidArgumentError` that names the key and its allowed range."""
    by_name: dict[str, Any] = {camel_case(key): value for key, value in args.items()}
    alarm_email = by_name.pop("alarmEmail", None)
    policy_keys = {field.alias for field in Policy.model_fields.values()}
    policy_input = {key: value for key, value in by_name.items() if key in policy_keys}
    infrastructure_input = {key: value for key, value in by_name.items() if key not in policy_keys}
    try:
        policy = Policy.model_validate(policy_input)
    except ValidationError as error:
        raise InvalidArgumentError(_explain(error, Policy)) from None
    try:
        infrastructure = InfrastructureOptions.model_validate(infrastructure_input)
    except ValidationError as error:
        raise InvalidArgumentError(_explain(error, InfrastructureOptions)) from None
    if (
        policy.test_destinations
        and infrastructure.environment == Environment.PRODUCTION
        and not infrastructure.allow_test_destinations_in_production
    ):
        raise InvalidArgumentError(
            "testDestinations is refused in a production stack (environment: production) "
            "unless allowTestDestinationsInProduction is true"
        )
    _refuse_autofill_that_splits_the_sms(policy, infrastructure)
    if isinstance(alarm_email, str) and not is_email_address(alarm_email):
        raise InvalidArgumentError(f"alarmEmail must be an email address, got {alarm_email!r}")
    return ServiceOptions(policy=policy, infrastructure=infrastructure, alarm_email=alarm_email)


def _refuse_autofill_that_splits_the_sms(
    policy: Policy, infrastructure: InfrastructureOptions
) -> None:
    """The autofill lines must leave every locale's SMS one GSM-7 segment: the SMS Retriever
    reads no message over 140 bytes, and a split SMS costs twice."""
    keys = [
        key
        for key, value in (
            ("webOtpDomain", infrastructure.web_otp_domain),
            ("androidAppHash", infrastructure.android_app_hash),
        )
        if value is not None
    ]
    if not keys:
        return
    longest_code = "9" * policy.code_length
    for locale in sorted(TEMPLATES):
        sms = render(
            "sms",
            locale,
            infrastructure.brand_name,
            longest_code,
            policy.code_ttl_seconds,
            infrastructure.autofill,
        ).body
        encoding, length, segments = sms_segments(sms)
        if segments > 1 or encoding != "GSM-7":
            raise InvalidArgumentError(
                f"{' and '.join(keys)} make the {locale!r} SMS {length} {encoding} characters, "
                f"over one GSM-7 segment ({GSM7_SEGMENT}): shorten brandName "
                f"({len(infrastructure.brand_name)} characters) or webOtpDomain, lower "
                f"codeLength ({policy.code_length}), or drop {' or '.join(keys)}"
            )


_RANGE_ERRORS = frozenset(
    {
        "greater_than_equal",
        "less_than_equal",
        "greater_than",
        "less_than",
        "too_short",
        "too_long",
        "int_from_float",
    }
)


def _explain(error: ValidationError, model: type[BaseModel]) -> str:
    """One clause per bad key: its name (`fraudGuard.minSends`), what it allows, what it got."""
    clauses = []
    for detail in error.errors():
        reason = str(detail["msg"]).removeprefix("Value error, ")
        if not detail["loc"]:
            clauses.append(reason)  # a rule across keys: its message names them
            continue
        key = ".".join(str(part) for part in detail["loc"])
        owner = _declaring_model(model, detail["loc"])
        if detail["type"] == "extra_forbidden":
            known = {field.alias or name for name, field in owner.model_fields.items()}
            clauses.append(
                f"{key} is not a known argument{closest_hint(str(detail['loc'][-1]), known)}"
            )
            continue
        allowed = _allowed_range(owner, str(detail["loc"][-1]))
        if detail["type"] == "value_error" or allowed is None:
            text = f"{key}: {reason}"
        elif detail["type"] in _RANGE_ERRORS:
            text = f"{key} must be {allowed}"
        else:
            text = f"{key} must be {allowed} ({reason})"
        clauses.append(f"{text}, got {detail['input']!r}")
    return "; ".join(clauses)


def _declaring_model(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel]:
    """The (nested) model whose field the last part of `loc` names."""
    for part in loc[:-1]:
        nested = next(
            (
                field.annotation
                for name, field in model.model_fields.items()
                if (field.alias or name) == part
            ),
            None,
        )
        if not (isinstance(nested, type) and issubclass(nested, BaseModel)):
            break
        model = nested
    return model


def closest_hint(key: str, known: set[str]) -> str:
    """`; did you mean 'codeLength'?` for the known key `key` most resembles, else nothing."""
    by_case = {k.lower(): k for k in known}
    closest = [by_case[key.lower()]] if key.lower() in by_case else []
    closest = closest or difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    return f"; did you mean {closest[0]!r}?" if closest else ""


def _allowed_range(model: type[BaseModel], alias: str) -> str | None:
    """The range a numeric or sized field declares, as prose (`between 6 and 10`)."""
    for name, field in model.model_fields.items():
        if (field.alias or name) != alias:
            continue
        bounds = {
            kind: getattr(constraint, attribute)
            for constraint in field.metadata
            for kind, (cls, attribute) in _BOUNDS.items()
            if isinstance(constraint, cls)
        }
        for needs, prose in _RANGE_PROSE:
            if needs <= bounds.keys():
                return prose.format(**bounds)
    return None


_BOUNDS: dict[str, tuple[type, str]] = {
    "low": (Ge, "ge"),
    "high": (Le, "le"),
    "above": (Gt, "gt"),
    "below": (Lt, "lt"),
    "min_items": (MinLen, "min_length"),
    "max_items": (MaxLen, "max_length"),
}
_RANGE_PROSE = (
    ({"min_items", "max_items"}, "a list of {min_items} to {max_items} entries"),
    ({"above", "below"}, "more than {above} and less than {below}"),
    ({"low", "high"}, "between {low} and {high}"),
    ({"low"}, "at least {low}"),
    ({"high"}, "at most {high}"),
)
