"""A typed Python client for the OTP service's HTTP contract (SigV4, API key, or none)."""

from .auth import ApiKeyAuth, Auth, NoAuth, SigV4Auth
from .client import OtpClient, new_idempotency_key
from .errors import (
    DeliveryFailed,
    DestinationNotAllowed,
    FieldProblem,
    Forbidden,
    IdempotencyKeyReused,
    InvalidCode,
    InvalidRequest,
    NotFound,
    OtpError,
    PayloadTooLarge,
    QuotaExceeded,
    RateLimited,
    RetryLater,
    ServiceUnavailable,
    Throttled,
    TooManyAttempts,
)
from .results import Approval, Cancellation, PendingVerification, Verification

__all__ = [
    "ApiKeyAuth",
    "Approval",
    "Auth",
    "Cancellation",
    "DeliveryFailed",
    "DestinationNotAllowed",
    "FieldProblem",
    "Forbidden",
    "IdempotencyKeyReused",
    "InvalidCode",
    "InvalidRequest",
    "NoAuth",
    "NotFound",
    "OtpClient",
    "OtpError",
    "PayloadTooLarge",
    "PendingVerification",
    "QuotaExceeded",
    "RateLimited",
    "RetryLater",
    "ServiceUnavailable",
    "SigV4Auth",
    "Throttled",
    "TooManyAttempts",
    "Verification",
    "new_idempotency_key",
]
