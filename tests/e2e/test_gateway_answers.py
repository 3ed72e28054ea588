"""otp-local answers for API Gateway as the program's gateway responses say, like the cloud."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from otp_service.components.gateway_responses import GATEWAY_RESPONSES
from otp_service.local.http_server import MAX_PAYLOAD_BYTES
from tests.support.local_stack import Stack, started


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    yield from started("--api-key", "gateway-key")


def _expected(response_type: str) -> dict[str, object]:
    return {"error": {"code": GATEWAY_RESPONSES[response_type].code} | {
        "message": GATEWAY_RESPONSES[response_type].message,
        **GATEWAY_RESPONSES[response_type].extra,
    }}  # fmt: skip


def test_a_missing_route_is_the_component_s_missing_token_answer(stack: Stack) -> None:
    reply = stack.call("GET", "/no-such-route")
    assert reply.status == 403
    assert reply.body == _expected("MISSING_AUTHENTICATION_TOKEN")
    assert reply.headers["Cache-Control"] == "no-store"


def test_a_wrong_api_key_is_the_component_s_invalid_key_answer(stack: Stack) -> None:
    reply = stack.process.call("POST", "/cancel-token", {"user_id": "u"}, {"x-api-key": "no"})
    assert (reply.status, reply.body) == (403, _expected("INVALID_API_KEY"))


def test_a_body_over_the_gateway_s_limit_is_the_component_s_413(stack: Stack) -> None:
    location = urlsplit(stack.process.url)
    connection = http.client.HTTPConnection(location.netloc, timeout=30)
    try:
        connection.putrequest("POST", "/request-token")
        connection.putheader("Content-Length", str(MAX_PAYLOAD_BYTES + 1))
        connection.endheaders()
        answer = connection.getresponse()
        body = answer.read()
    finally:
        connection.close()
    assert answer.status == 413
    assert body.decode() == GATEWAY_RESPONSES["REQUEST_TOO_LARGE"].body()
