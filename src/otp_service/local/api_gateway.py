"""API Gateway in front of the functions: route, check the API key, invoke, map the answer."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from .functions import FunctionHost
from .proxy_integration import HttpResponse, http_response, proxy_event
from .routes import DeclaredApi, path_parameters

logger = logging.getLogger("otp_local")


@dataclass(frozen=True)
class GatewayRequest:
    """One HTTP request as it reached the gateway."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str


@dataclass(frozen=True)
class GatewayAnswer:
    """The response and the request ID API Gateway gave the request."""

    response: HttpResponse
    request_id: str


class LocalGateway:
    """The REST API's routes, proxied to the functions in this process."""

    def __init__(self, api: DeclaredApi, functions: FunctionHost, api_key: str | None) -> None:
        self._api = api
        self._functions = functions
        self._api_key = api_key

    def handle(self, request: GatewayRequest) -> GatewayAnswer:
        """The answer API Gateway and the route's function give the request."""
        route = self._api.find(request.method, request.path)
        event = proxy_event(
            request.method,
            request.path,
            headers=request.headers,
            body=request.body,
            query=request.query,
            source_ip=request.source_ip,
            stage=self._api.stage,
            resource=route.path if route is not None else request.path,
            api_key=self._api_key,
            binary_media_types=self._api.binary_media_types,
        )
        if route is not None:
            event["pathParameters"] = path_parameters(route.path, request.path) or None
        request_id = str(event["requestContext"]["requestId"])
        if route is None:
            # API Gateway's answer for a path or method the API does not have.
            answer = self.own_answer(
                "MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token"
            )
            return GatewayAnswer(answer, request_id)
        if self._api_key is not None and not self._has_api_key(request.headers):
            return GatewayAnswer(self.own_answer("INVALID_API_KEY", 403, "Forbidden"), request_id)
        try:
            result = self._functions.invoke(route.function.name, event)
        except Exception:
            # An unhandled error ends the invocation; API Gateway answers 502 without details.
            logger.exception("function %s failed", route.function.name)
            return GatewayAnswer(self.own_answer("", 502, "Internal server error"), request_id)
        response = http_response(result)
        if response is None:
            response = self.own_answer("", 502, "Internal server error")
        return GatewayAnswer(response, request_id)

    def own_answer(self, response_type: str, status: int, message: str) -> HttpResponse:
        """API Gateway's own answer of `response_type`: the program's gateway response for it,
        else for DEFAULT_4XX/5XX, else AWS's `{"message": ...}`."""
        default = "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
        responses = self._api.responses
        spec = responses.get(response_type) or responses.get(default)
        if spec is None:
            return _message(status, message)
        return HttpResponse(spec.status or status, list(spec.headers), spec.body)

    def _has_api_key(self, headers: Sequence[tuple[str, str]]) -> bool:
        assert self._api_key is not None
        given = next((v for k, v in headers if k.lower() == "x-api-key"), "")
        return hmac.compare_digest(given.encode(), self._api_key.encode())


def _message(status: int, message: str) -> HttpResponse:
    body = json.dumps({"message": message}).encode()
    return HttpResponse(status, [("Content-Type", "application/json")], body)
