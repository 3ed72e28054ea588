"""What every answer must look like, and what a rejected request must leave untouched."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from otp_service.local.proxy_integration import LambdaContext
from tests.support.moto_service import Reply, Service

ERROR_CODES: dict[str, dict[int, set[str]]] = {
    "/request-token": {
        400: {"invalid_request"},
        403: {"destination_not_allowed"},
        413: {"payload_too_large"},
        422: {"idempotency_key_reused"},
        429: {"rate_limited"},
        502: {"delivery_failed"},
        503: {"service_unavailable"},
    },
    "/verify-token": {
        400: {"invalid_code", "invalid_request"},
        413: {"payload_too_large"},
        429: {"too_many_attempts"},
        503: {"service_unavailable"},
    },
    "/cancel-token": {
        400: {"invalid_request"},
        413: {"payload_too_large"},
        503: {"service_unavailable"},
    },
}
"""The contract's error table per route; 413 applies to every route's body limit."""

_ERROR_MEMBERS = {"code", "message", "fields", "retry_after"}


@dataclass(frozen=True)
class Snapshot:
    """What the service has stored, sent and called at one moment."""

    items: list[dict[str, Any]]
    sent: int
    calls: int


def snapshot(service: Service) -> Snapshot:
    """Take the snapshot without counting its own scan as a service call."""
    calls = len(service.calls)
    items = sorted(service.items(), key=lambda item: str(item["pk"]["S"]))
    del service.calls[calls:]
    return Snapshot(items, len(service.sms()) + len(service.emails()), calls)


def invoke(service: Service, route: str, event: dict[str, Any]) -> Reply:
    """Call a handler with a raw proxy event, as API Gateway would."""
    result = service.handler(route)(event, LambdaContext(function_name=route.strip("/")))
    assert set(result) == {"statusCode", "headers", "body", "isBase64Encoded"}
    assert result["isBase64Encoded"] is False
    return Reply(result["statusCode"], result["headers"], json.loads(result["body"]))


def raw_event(
    route: str,
    body: str | None,
    *,
    headers: dict[str, str] | None = None,
    multi_headers: dict[str, list[str]] | None = None,
    base64: bool = False,
) -> dict[str, Any]:
    """A REST (v1) proxy event with exactly the given body and headers."""
    return {
        "resource": route,
        "path": route,
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route,
            "httpMethod": "POST",
            "stage": "test",
            "requestId": "fuzz",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": body,
        "isBase64Encoded": base64,
    }


def assert_contract_error(route: str, reply: Reply) -> None:
    """A 4xx/5xx answer in the contract's shape, with only the members its row names."""
    assert reply.status in ERROR_CODES[route], reply
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["Cache-Control"] == "no-store"
    error = reply.body["error"]
    assert set(error) <= _ERROR_MEMBERS
    assert error["code"] in ERROR_CODES[route][reply.status]
    assert isinstance(error["message"], str) and error["message"]
    top = set(reply.body) - {"error"}
    if error["code"] in {"invalid_code", "too_many_attempts"}:
        assert top == {"verified"} and reply.body["verified"] is False
    else:
        assert not top
    if error["code"] == "invalid_request":
        assert error["fields"], "an invalid_request names at least one field"
        for item in error["fields"]:
            assert set(item) == {"field", "message"}
            assert isinstance(item["field"], str) and isinstance(item["message"], str)
    else:
        assert "fields" not in error
    if reply.status in {429}:
        assert error["retry_after"] >= 1
        assert reply.headers["Retry-After"] == str(error["retry_after"])
    else:
        assert "retry_after" not in error
    if reply.status == 503:
        assert int(reply.headers["Retry-After"]) >= 1


_PHONE = re.compile(r"\+?[0-9]{7,15}")
_EMAIL = re.compile(r"[^\s\"@]+@[^\s\"@]+\.[^\s\"@]+")


def assert_echoes_nothing(reply: Reply, *sent: str) -> None:
    """No code, phone number or email address from the request comes back in an error."""
    text = json.dumps(reply.body, ensure_ascii=False) + json.dumps(reply.headers)
    for value in sent:
        for secret in _PHONE.findall(value) + _EMAIL.findall(value):
            assert secret not in text, f"the answer echoes {secret!r}"
        digits = re.findall(r"[0-9]{6,}", value)
        for run in digits:
            assert run not in text, f"the answer echoes {run!r}"
