"""What can go wrong below the HTTP layer, and which AWS errors are worth a retry later."""

from __future__ import annotations

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
        "TransactionInProgressException",
    }
)


class RateLimited(Exception):
    """A send refused by the cooldown or a send limit."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after


class IdempotencyKeyTaken(Exception):
    """An `Idempotency-Key` that already has a live record."""


class DependencyUnavailable(Exception):
    """A dependency answered that it is throttled or down."""


class DeliveryRejected(Exception):
    """The SMS or email provider refused the message for good."""


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
