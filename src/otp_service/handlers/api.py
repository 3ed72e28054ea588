"""The shell every handler shares: domain refusals to contract answers, never a stack trace out.

Rules raise the domain's errors (`errors.py`); this module alone knows their status, code,
message, extra members and headers, as the handler cookbook's exception handlers do.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from botocore.exceptions import ClientError

from .container import Container, from_environment
from .errors import (
    DeliveryFailed,
    DependencyUnavailable,
    DestinationNotAllowed,
    IdempotencyKeyReused,
    InvalidCode,
    InvalidRequest,
    OtpError,
    PayloadTooLarge,
    RateLimited,
    TooManyAttempts,
    error_code,
    is_transient,
)
from .http import MAX_BODY_BYTES, response
from .observability import count, logger
from .service import Answer

Operation = Callable[[Container, Mapping[str, Any]], Answer]
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

SERVICE_UNAVAILABLE_RETRY_AFTER = 2


@dataclass(frozen=True)
class ErrorAnswer:
    """An answer other than success, in the contract's error shape; never carries a secret."""

    status: int
    code: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)
    """Members added to the `error` object."""
    top_level: dict[str, Any] = field(default_factory=dict)
    """Members added beside the `error` object."""
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> dict[str, Any]:
        """The proxy response."""
        detail = {"code": self.code, "message": self.message, **self.extra}
        return response(self.status, {"error": detail, **self.top_level}, self.headers)


def lambda_handler(
    operation: Operation, container: Callable[[], Container] = from_environment
) -> Handler:
    """A Lambda entry point running `operation` over the collaborators `container` gives.

    In the cloud that is the function's own environment, built once per container; the local
    stack and the tests hand in theirs.
    """

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return serve(event, lambda: operation(container(), event))

    return handler


def serve(event: Mapping[str, Any], run: Callable[[], Answer]) -> dict[str, Any]:
    """Run one operation and map every outcome to a proxy response."""
    try:
        answer = run()
    except DependencyUnavailable as error:
        return _unavailable(error)
    except OtpError as error:
        if isinstance(error, InvalidRequest):
            count("InvalidRequest", "unknown")
        return error_answer(error).response()
    except Exception as error:  # noqa: BLE001 - every failure must become a contract answer
        if is_transient(error):
            return _unavailable(error)
        logger.error(
            "unexpected error",
            extra={**_failure(error), "frames": traceback.format_tb(error.__traceback__)},
        )
        return ErrorAnswer(500, "internal_error", "An unexpected error occurred.").response()
    return response(answer.status, answer.body)


def _failure(error: Exception) -> dict[str, Any]:
    """Only the type and the AWS error code: messages can quote PII."""
    aws_code = error_code(error) if isinstance(error, ClientError) else None
    return {"error": type(error).__name__, "aws_error_code": aws_code}


def _unavailable(error: Exception) -> dict[str, Any]:
    count("DependencyUnavailable", "unknown")
    logger.warning("dependency unavailable", extra=_failure(error))
    return error_answer(DependencyUnavailable()).response()


def error_answer(error: OtpError) -> ErrorAnswer:  # noqa: PLR0911 - one branch per contract row
    """The contract's answer to a domain error."""
    if isinstance(error, InvalidRequest):
        fields = [{"field": f.field, "message": f.message} for f in error.fields]
        return ErrorAnswer(400, "invalid_request", "The request is invalid.", {"fields": fields})
    if isinstance(error, PayloadTooLarge):
        message = f"The body must be at most {MAX_BODY_BYTES} bytes."
        return ErrorAnswer(413, "payload_too_large", message)
    if isinstance(error, DestinationNotAllowed):
        what = "premium-rate numbers" if error.premium_rate else "this destination's country"
        return ErrorAnswer(403, "destination_not_allowed", f"SMS to {what} is not allowed.")
    if isinstance(error, RateLimited):
        message = "Too many codes requested; try again later."
        return _retry_later(429, "rate_limited", message, error.retry_after)
    if isinstance(error, IdempotencyKeyReused):
        message = "This Idempotency-Key was used with a different body."
        return ErrorAnswer(422, "idempotency_key_reused", message)
    if isinstance(error, DeliveryFailed):
        return ErrorAnswer(502, "delivery_failed", "The message could not be delivered.")
    if isinstance(error, InvalidCode):
        return ErrorAnswer(
            400, "invalid_code", "The code is invalid.", top_level={"verified": False}
        )
    if isinstance(error, TooManyAttempts):
        message = "Too many failed attempts; request a new code."
        return _retry_later(429, "too_many_attempts", message, error.retry_after, verified=False)
    if isinstance(error, DependencyUnavailable):
        retry_after = str(SERVICE_UNAVAILABLE_RETRY_AFTER)
        message = "The service is busy; try again shortly."
        return ErrorAnswer(
            503, "service_unavailable", message, headers={"Retry-After": retry_after}
        )
    raise TypeError(f"no contract answer for {type(error).__name__}")


def _retry_later(status: int, code: str, message: str, retry_after: int, **top: Any) -> ErrorAnswer:
    """`retry_after` in the body and the `Retry-After` header agree."""
    return ErrorAnswer(
        status, code, message, {"retry_after": retry_after}, top, {"Retry-After": str(retry_after)}
    )
