"""One exception per error the contract (and API Gateway in front of it) can answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    """One reason a request body was refused, named by its field."""

    field: str
    message: str


class OtpError(Exception):
    """An answer other than success; `code` and `message` are the contract's error members."""

    code = "unexpected_response"

    def __init__(
        self, status: int, message: str, *, code: str | None = None, request_id: str | None = None
    ) -> None:
        super().__init__(f"{status} {code or self.code}: {message}")
        self.status = status
        self.message = message
        if code is not None:
            self.code = code
        self.request_id = request_id
        """API Gateway's request ID (`x-amzn-RequestId`), for support and the access logs."""


class RetryLater(OtpError):
    """An error that names the seconds after which trying again can succeed."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        retry_after: int | None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(status, message, code=code, request_id=request_id)
        self.retry_after = retry_after


class InvalidRequest(OtpError):
    """400 `invalid_request`: the body breaks the contract's rules; `fields` say which and how."""

    code = "invalid_request"

    def __init__(
        self,
        status: int,
        message: str,
        *,
        fields: tuple[FieldProblem, ...] = (),
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(status, message, code=code, request_id=request_id)
        self.fields = fields


class InvalidCode(OtpError):
    """400 `invalid_code`: wrong, expired, already used, or no pending code (one answer)."""

    code = "invalid_code"


class Forbidden(OtpError):
    """403 from API Gateway: missing or wrong SigV4 signature or API key, or no such route."""

    code = "forbidden"


class DestinationNotAllowed(OtpError):
    """403 `destination_not_allowed`: the number's country or kind is not allowed."""

    code = "destination_not_allowed"


class NotFound(OtpError):
    """404 `not_found`: no verification with that id (unknown, past retention, or malformed)."""

    code = "not_found"


class PayloadTooLarge(OtpError):
    """413 `payload_too_large`: the body is over 8 KiB."""

    code = "payload_too_large"


class IdempotencyKeyReused(OtpError):
    """422 `idempotency_key_reused`: the key was used before with a different body."""

    code = "idempotency_key_reused"


class RateLimited(RetryLater):
    """429 `rate_limited`: resend cooldown or send limit; a new code after `retry_after` s."""

    code = "rate_limited"


class TooManyAttempts(RetryLater):
    """429 `too_many_attempts`: the code is burned; a new one can be requested after
    `retry_after` seconds."""

    code = "too_many_attempts"


class Throttled(RetryLater):
    """429 `throttled` from API Gateway: the stage's or usage plan's rate; retry shortly."""

    code = "throttled"


class QuotaExceeded(OtpError):
    """429 `quota_exceeded` from API Gateway: the API key's usage-plan quota is used up."""

    code = "quota_exceeded"


class DeliveryFailed(OtpError):
    """502 `delivery_failed`: the provider refused the message; no code is left pending."""

    code = "delivery_failed"


class ServiceUnavailable(RetryLater):
    """503 `service_unavailable`: a dependency is throttled or down; `retry_after` from the
    `Retry-After` header."""

    code = "service_unavailable"


_BY_CODE: dict[str, type[OtpError]] = {
    cls.code: cls
    for cls in (
        InvalidRequest,
        InvalidCode,
        Forbidden,
        DestinationNotAllowed,
        NotFound,
        PayloadTooLarge,
        IdempotencyKeyReused,
        RateLimited,
        TooManyAttempts,
        Throttled,
        QuotaExceeded,
        DeliveryFailed,
        ServiceUnavailable,
    )
}


def error_from_answer(
    status: int, body: Any, headers: Mapping[str, str], request_id: str | None
) -> OtpError:
    """The exception for an error answer; an unknown shape is a plain `OtpError`."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        return OtpError(status, f"unexpected answer with status {status}", request_id=request_id)
    code = str(error["code"])
    message = str(error.get("message", ""))
    cls = _BY_CODE.get(code, OtpError)
    if issubclass(cls, RetryLater):
        retry_after = _seconds(error.get("retry_after")) or _seconds(headers.get("retry-after"))
        return cls(status, message, retry_after=retry_after, code=code, request_id=request_id)
    if cls is InvalidRequest:
        fields = tuple(
            FieldProblem(str(item.get("field", "")), str(item.get("message", "")))
            for item in error.get("fields") or []
            if isinstance(item, dict)
        )
        return InvalidRequest(status, message, fields=fields, code=code, request_id=request_id)
    return cls(status, message, code=code, request_id=request_id)


def _seconds(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
