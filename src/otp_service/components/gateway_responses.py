"""API Gateway's own answers (no route, bad auth, throttled, too large) in the contract's shape.

Without these, API Gateway answers `{"message": "..."}`, a shape the contract does not know.
Each body is fixed JSON with no mapping-template variables: AWS's own messages can quote the
caller's ARN or the canonical request, and otp-local serves the same bodies from the program.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class GatewayAnswer:
    """One gateway response: the status (None keeps API Gateway's own), error code and text."""

    status: int | None
    code: str
    message: str
    extra: dict[str, object] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> str:
        return json.dumps(
            {"error": {"code": self.code, "message": self.message, **self.extra}},
            separators=(",", ":"),
        )


_FORBIDDEN = "forbidden"
THROTTLE_RETRY_AFTER_SECONDS = 1
"""Stage and usage-plan throttles refill every second."""

GATEWAY_RESPONSES: dict[str, GatewayAnswer] = {
    "MISSING_AUTHENTICATION_TOKEN": GatewayAnswer(
        403,
        _FORBIDDEN,
        "Missing authentication (a SigV4 signature, or x-api-key in API-key mode), "
        "or no such route.",
    ),
    "INVALID_SIGNATURE": GatewayAnswer(403, _FORBIDDEN, "The SigV4 signature does not match."),
    "EXPIRED_TOKEN": GatewayAnswer(403, _FORBIDDEN, "The credentials or signature have expired."),
    "ACCESS_DENIED": GatewayAnswer(403, _FORBIDDEN, "The caller may not call this route."),
    "INVALID_API_KEY": GatewayAnswer(403, _FORBIDDEN, "Missing or unknown x-api-key."),
    "WAF_FILTERED": GatewayAnswer(403, _FORBIDDEN, "The request was blocked by the web ACL."),
    "REQUEST_TOO_LARGE": GatewayAnswer(
        413, "payload_too_large", "The body must be at most 8192 bytes."
    ),
    "THROTTLED": GatewayAnswer(
        429,
        "throttled",
        "Too many requests to the API; try again shortly.",
        extra={"retry_after": THROTTLE_RETRY_AFTER_SECONDS},
        headers={"Retry-After": str(THROTTLE_RETRY_AFTER_SECONDS)},
    ),
    "QUOTA_EXCEEDED": GatewayAnswer(
        429, "quota_exceeded", "The API key's quota for the period is used up."
    ),
    "DEFAULT_4XX": GatewayAnswer(
        None, "invalid_request", "The API refused the request.", extra={"fields": []}
    ),
    "DEFAULT_5XX": GatewayAnswer(None, "internal_error", "An unexpected error occurred."),
}
"""Response type -> answer; the types are API Gateway's (GetGatewayResponse's valid values)."""


def gateway_responses_fingerprint() -> str:
    """Every gateway response's content, for the deployment's triggers."""
    return json.dumps(
        {kind: [a.status, a.body(), a.headers] for kind, a in GATEWAY_RESPONSES.items()},
        sort_keys=True,
    )


def create_gateway_responses(
    name: str, rest_api: aws.apigateway.RestApi, parent: pulumi.Resource
) -> list[aws.apigateway.Response]:
    """One `aws.apigateway.Response` per type; the deployment must depend on them (API
    Gateway applies a changed gateway response only with the next deployment)."""
    responses = []
    for response_type, answer in GATEWAY_RESPONSES.items():
        headers = {"Cache-Control": "no-store", **answer.headers}
        responses.append(
            aws.apigateway.Response(
                f"{name}-gateway-{response_type.lower().replace('_', '-')}",
                rest_api_id=rest_api.id,
                response_type=response_type,
                status_code=None if answer.status is None else str(answer.status),
                response_templates={"application/json": answer.body()},
                # Header values are mapping expressions: a static value is single-quoted.
                response_parameters={
                    f"gatewayresponse.header.{header}": f"'{value}'"
                    for header, value in headers.items()
                },
                opts=pulumi.ResourceOptions(parent=parent),
            )
        )
    return responses
