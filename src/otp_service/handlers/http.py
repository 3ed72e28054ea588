"""API Gateway REST (v1) proxy events in, proxy responses out."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from .errors import FieldError, InvalidRequest, PayloadTooLarge

MAX_BODY_BYTES = 8 * 1024

JSON_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store"}


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
        raise InvalidRequest(FieldError("body", "must be a JSON object"))
    encoded = body.encode("utf-8", errors="surrogatepass")
    if event.get("isBase64Encoded"):
        if len(encoded) > (MAX_BODY_BYTES * 4) // 3 + 4:
            raise PayloadTooLarge
        try:
            encoded = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(FieldError("body", "is not valid base64")) from None
    if len(encoded) > MAX_BODY_BYTES:
        raise PayloadTooLarge
    return encoded


def json_body(event: Mapping[str, Any]) -> dict[str, Any]:
    """The request body parsed as one JSON object."""
    try:
        parsed = json.loads(raw_body(event).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidRequest(FieldError("body", "must be a JSON object")) from None
    if not isinstance(parsed, dict):
        raise InvalidRequest(FieldError("body", "must be a JSON object"))
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
