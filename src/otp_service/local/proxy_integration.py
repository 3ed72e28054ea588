"""API Gateway REST (v1) proxy integration, as the cloud does it: events in, responses out."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        """Lambda's remaining-time probe; locally there is no deadline to report."""
        return 20_000


def proxy_event(
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    body: bytes | None = None,
    query: Mapping[str, list[str]] | None = None,
    source_ip: str = "127.0.0.1",
    stage: str = "local",
    resource: str | None = None,
    api_key: str | None = None,
    binary_media_types: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The event API Gateway's Lambda proxy integration builds for one request.

    `headers` keeps the caller's case and may repeat a name: `headers` then holds the last
    value and `multiValueHeaders` all of them. With `binary_media_types` (the API's setting), a
    body is base64-encoded exactly when its Content-Type matches one; without it, when the body
    is not text.
    """
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
    header_map: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in pairs:
        header_map[name] = value
        multi_headers.setdefault(name, []).append(value)
    content_type = next((v for k, v in pairs if k.lower() == "content-type"), "")
    user_agent = next((v for k, v in pairs if k.lower() == "user-agent"), None)
    if binary_media_types is None:
        encoded, is_base64 = _body_for_lambda(body, content_type)
    else:
        encoded, is_base64 = _body_as_configured(body, content_type, binary_media_types)
    query_map = dict(query or {})
    request_id = str(uuid.uuid4())
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": header_map or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in query_map.items()} or None,
        "multiValueQueryStringParameters": query_map or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource or path,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "requestTimeEpoch": int(time.time() * 1000),
            "protocol": "HTTP/1.1",
            "accountId": "123456789012",
            "apiId": "local",
            "identity": {
                "sourceIp": source_ip,
                "userAgent": user_agent,
                "apiKey": api_key,
                "apiKeyId": "local" if api_key else None,
                "caller": None,
                "user": None,
                "userArn": None,
                "accessKey": None,
                "accountId": None,
            },
        },
        "body": encoded,
        "isBase64Encoded": is_base64,
    }


@dataclass(frozen=True)
class HttpResponse:
    """What API Gateway sends back to the caller."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def http_response(result: Any) -> HttpResponse | None:
    """Map a handler's proxy response the way API Gateway does; None for a malformed one
    (API Gateway then answers 502)."""
    try:
        return _mapped(result)
    except (KeyError, TypeError, ValueError):
        return None


def _mapped(result: Any) -> HttpResponse:
    if not isinstance(result, dict):
        raise TypeError("the proxy response must be an object")
    status = result.get("statusCode", 200)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise ValueError("statusCode must be an HTTP status")
    headers: list[tuple[str, str]] = []
    multi = result.get("multiValueHeaders") or {}
    single = result.get("headers") or {}
    if not isinstance(multi, dict) or not isinstance(single, dict):
        raise TypeError("headers must be objects")
    for name, values in multi.items():
        headers.extend((str(name), str(v)) for v in values)
    named = {name.lower() for name, _ in headers}
    headers.extend((str(k), str(v)) for k, v in single.items() if k.lower() not in named)
    body = result.get("body") or ""
    if not isinstance(body, str):
        raise TypeError("body must be a string")
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    return HttpResponse(status, headers, raw)


def _body_for_lambda(body: bytes | None, content_type: str) -> tuple[str | None, bool]:
    if not body:
        return None, False
    if content_type.startswith(_TEXT_TYPES) or not content_type:
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def _body_as_configured(
    body: bytes | None, content_type: str, binary_media_types: Sequence[str]
) -> tuple[str | None, bool]:
    """API Gateway's rule: base64 for a binary media type, otherwise the bytes as text."""
    if not body:
        return None, False
    media_type = content_type.split(";", 1)[0].strip().lower()
    for pattern in binary_media_types:
        wanted = pattern.lower()
        family = wanted.removesuffix("*")
        if wanted == media_type or (wanted.endswith("/*") and media_type.startswith(family)):
            return base64.b64encode(body).decode("ascii"), True
        if wanted == "*/*":
            return base64.b64encode(body).decode("ascii"), True
    return body.decode("utf-8", errors="replace"), False
