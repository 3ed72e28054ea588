"""The handlers' metric names and namespace, shared with the component's alarms and dashboard."""

from enum import StrEnum

SERVICE = "otp"
"""The `service` dimension of every metric and the service field of every log line."""

NAMESPACE = "OtpService"
"""The CloudWatch namespace of the handlers' EMF metrics."""


class Metric(StrEnum):
    """Every EMF count a handler emits; each is dimensioned by service and channel."""

    CODE_SENT = "CodeSent"
    TEST_CODE_PENDED = "TestCodePended"
    DELIVERY_FAILED = "DeliveryFailed"
    CODE_VERIFIED = "CodeVerified"
    VERIFY_FAILED = "VerifyFailed"
    LOCKED_OUT = "LockedOut"
    RATE_LIMITED = "RateLimited"
    DESTINATION_NOT_ALLOWED = "DestinationNotAllowed"
    INVALID_REQUEST = "InvalidRequest"
    CODE_CANCELED = "CodeCanceled"
    DEPENDENCY_UNAVAILABLE = "DependencyUnavailable"
    BLOCKED_SEND = "BlockedSend"
    """An SMS Fraud Guard refused: a blocked prefix or a spent budget."""
    PREFIX_BLOCKED = "PrefixBlocked"
    """Fraud Guard blocked a number prefix (the events function)."""
    FRAUD_GUARD_FAILED = "FraudGuardFailed"
    """Fraud Guard could not count a stream record (the record goes uncounted)."""
    SMS_BUDGET_EXHAUSTED = "SmsBudgetExhausted"
    """An SMS refused because a daily SMS budget (all, or its country's) is spent."""
