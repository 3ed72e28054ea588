"""The domain's refusals (the handler shell maps them to answers) and transient AWS errors."""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as AwsConnectionError

_TRANSIENT_CODES = frozenset(
    {
        "DependencyTimeoutException",
        "DisabledException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "KMSInternalException",
        "KMSInvalidStateException",
        "KeyUnavailableException",
        "LimitExceededException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "Throttled",
        "ThrottledException",
        "Throttling",
        "ThrottlingError",
        "ThrottlingException",
        "TooManyRequestsException",
        # A write landing on an item inside another request's transaction: retrying will pass.
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)


class OtpError(Exception):
    """A rule's refusal; the handler shell (`api.py`) alone turns it into an HTTP answer.

    Messages name no code, destination or user: they may end up in a log.
    """


@dataclass(frozen=True)
class FieldError:
    """One reason a request body was refused, named by its field."""

    field: str
    message: str


class InvalidRequest(OtpError):
    """A body or header that breaks the contract's field rules."""

    def __init__(self, *fields: FieldError) -> None:
        super().__init__("invalid request")
        self.fields = fields


class PayloadTooLarge(OtpError):
    """A body over the contract's size limit."""


class DestinationNotAllowed(OtpError):
    """An SMS destination the policy refuses: a country not allowed, or a premium-rate number."""

    def __init__(self, premium_rate: bool) -> None:
        super().__init__("destination not allowed")
        self.premium_rate = premium_rate


class DestinationBlocked(Exception):
    """The store's answer when Fraud Guard refuses a send: a blocked prefix or a spent budget."""

    def __init__(self, budget_spent: bool) -> None:
        super().__init__("destination blocked")
        self.budget_spent = budget_spent


class RateLimited(OtpError):
    """A send refused by the cooldown or a send limit."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after


class IdempotencyKeyTaken(Exception):
    """An `Idempotency-Key` that already has a live record (the store's answer, not a refusal)."""


class IdempotencyKeyReused(OtpError):
    """An `Idempotency-Key` seen before with a different body."""


class DeliveryFailed(OtpError):
    """The SMS or email provider refused the message for good."""


class InvalidCode(OtpError):
    """A wrong, expired, used or missing code: one answer for all four."""


class TooManyAttempts(OtpError):
    """The user used up the failed attempts; no code is accepted before `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many attempts")
        self.retry_after = retry_after


class VerificationNotFound(OtpError):
    """No verification answers to this id: unknown, past its retention, or malformed."""


class DependencyUnavailable(OtpError):
    """A dependency answered that it is throttled or down."""


def error_code(error: ClientError) -> str:
    """The AWS error code of a botocore client error."""
    return str(error.response.get("Error", {}).get("Code", ""))


def is_transient(error: Exception) -> bool:
    """Whether a failure is a throttle or an outage that may pass, rather than a bug."""
    if isinstance(error, DependencyUnavailable):
        return True
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error_code(error) in _TRANSIENT_CODES or status >= 500
    return isinstance(error, AwsConnectionError | HTTPClientError)
