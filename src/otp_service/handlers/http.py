"""API Gateway REST (v1) proxy events in, proxy responses out, and the contract's error shape."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_BODY_BYTES = 8 * 1024

SERVICE_UNAVAILABLE_RETRY_AFTER = 2

JSON_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store"}


@dataclass(frozen=True)
class FieldError:
    """One reason a request body was refused, named by its field."""

    field: str
    message: str


@dataclass
class ApiError(Exception):
    """An answer other than success, in the contract's error shape; never carries a secret."""

    status: int
    code: str
    message: str
    fields: list[FieldError] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Members added to the `error` object."""
    top_level: dict[str, Any] = field(default_factory=dict)
    """Members added beside the `error` object."""
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}"


def invalid_request(*errors: FieldError) -> ApiError:
    """The 400 answer for a body that breaks the contract's field rules."""
    return ApiError(400, "invalid_request", "The request is invalid.", fields=list(errors))


def service_unavailable() -> ApiError:
    """The 503 answer when a dependency is throttled or down."""
    return ApiError(
        503,
        "service_unavailable",
        "The service is busy; try again shortly.",
        headers={"Retry-After": str(SERVICE_UNAVAILABLE_RETRY_AFTER)},
    )


def retry_later(status: int, code: str, message: str, retry_after: int, **top: Any) -> ApiError:
    """A 429 answer: `retry_after` in the body and the `Retry-After` header agree."""
    seconds = max(1, retry_after)
    return ApiError(
        status,
        code,
        message,
        extra={"retry_after": seconds},
        top_level=top,
        headers={"Retry-After": str(seconds)},
    )


def header(event: Mapping[str, Any], name: str) -> str | None:
    """A request header by case-insensitive name; None when absent."""
    headers = event.get("headers") or {}
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted and isinstance(value, str):
            return value
    return None


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The request body as bytes, decoding base64 and enforcing the 8 KiB limit."""
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise invalid_request(FieldError("body", "must be a JSON object"))
    encoded = body.encode("utf-8", errors="surrogatepass")
    if event.get("isBase64Encoded"):
        if len(encoded) > (MAX_BODY_BYTES * 4) // 3 + 4:
            raise _too_large()
        try:
            encoded = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise invalid_request(FieldError("body", "is not valid base64")) from None
    if len(encoded) > MAX_BODY_BYTES:
        raise _too_large()
    return encoded


def json_body(event: Mapping[str, Any]) -> dict[str, Any]:
    """The request body parsed as one JSON object."""
    try:
        parsed = json.loads(raw_body(event).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise invalid_request(FieldError("body", "must be a JSON object")) from None
    if not isinstance(parsed, dict):
        raise invalid_request(FieldError("body", "must be a JSON object"))
    return parsed


def response(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A Lambda proxy response with a JSON body."""
    return {
        "statusCode": status,
        "headers": {**JSON_HEADERS, **(headers or {})},
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def error_response(error: ApiError) -> dict[str, Any]:
    """The proxy response for an `ApiError`."""
    detail: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.fields is not None:
        detail["fields"] = [{"field": f.field, "message": f.message} for f in error.fields]
    detail.update(error.extra)
    return response(error.status, {"error": detail, **error.top_level}, error.headers)


def internal_error() -> dict[str, Any]:
    """The generic 500 answer: nothing about what went wrong leaves the function."""
    return error_response(ApiError(500, "internal_error", "An unexpected error occurred."))


def _too_large() -> ApiError:
    return ApiError(413, "payload_too_large", f"The body must be at most {MAX_BODY_BYTES} bytes.")
