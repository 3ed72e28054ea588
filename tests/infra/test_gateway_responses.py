"""API Gateway's own answers carry the contract's error shape, and a deployment serves them."""

from __future__ import annotations

import json

import pulumi

from otp_service.components.gateway_responses import GATEWAY_RESPONSES
from tests.support.pulumi_mocks import Recording, RunProgram, pulumi_test

RESPONSE = "aws:apigateway/response:Response"
API_GATEWAY_RESPONSE_TYPES = {
    "DEFAULT_4XX", "DEFAULT_5XX", "RESOURCE_NOT_FOUND", "UNAUTHORIZED", "INVALID_API_KEY",
    "ACCESS_DENIED", "AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR", "INVALID_SIGNATURE",
    "EXPIRED_TOKEN", "MISSING_AUTHENTICATION_TOKEN", "INTEGRATION_FAILURE", "INTEGRATION_TIMEOUT",
    "API_CONFIGURATION_ERROR", "UNSUPPORTED_MEDIA_TYPE", "BAD_REQUEST_PARAMETERS",
    "BAD_REQUEST_BODY", "REQUEST_TOO_LARGE", "THROTTLED", "QUOTA_EXCEEDED", "WAF_FILTERED",
}  # fmt: skip
"""GetGatewayResponse's valid `response_type` values (API Gateway API reference)."""


@pulumi_test
def test_every_gateway_answer_has_the_contract_s_error_shape(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        responses = {r.inputs["responseType"]: r.inputs for r in recording.of_type(RESPONSE)}
        assert set(responses) == set(GATEWAY_RESPONSES)
        assert set(responses) <= API_GATEWAY_RESPONSE_TYPES
        for kind in ("MISSING_AUTHENTICATION_TOKEN", "REQUEST_TOO_LARGE", "THROTTLED"):
            assert kind in responses
        for kind, response in responses.items():
            body = json.loads(response["responseTemplates"]["application/json"])
            assert set(body) == {"error"}, kind
            assert {"code", "message"} <= set(body["error"]), kind
            assert "$" not in response["responseTemplates"]["application/json"], kind
            status = response.get("statusCode")
            assert status is None or (status.isdigit() and len(status) == 3), kind

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_a_throttled_answer_says_when_to_retry_in_header_and_body(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        throttled = next(
            r.inputs for r in recording.of_type(RESPONSE) if r.inputs["responseType"] == "THROTTLED"
        )
        assert throttled["statusCode"] == "429"
        body = json.loads(throttled["responseTemplates"]["application/json"])
        parameters = throttled["responseParameters"]
        # A static header value is a quoted literal; unquoted it would name a request field.
        assert (
            parameters["gatewayresponse.header.Retry-After"] == f"'{body['error']['retry_after']}'"
        )
        assert all(v.startswith("'") and v.endswith("'") for v in parameters.values())

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_the_deployment_is_redone_when_a_gateway_response_changes(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    """API Gateway serves a changed gateway response only from the next deployment."""

    def check(recording: Recording) -> None:
        triggers = recording.one("aws:apigateway/deployment:Deployment").inputs["triggers"]
        fingerprint = json.loads(triggers["routes"])
        templates = [
            r.inputs["responseTemplates"]["application/json"] for r in recording.of_type(RESPONSE)
        ]
        fingerprinted = {
            body
            for part in fingerprint
            if isinstance(part, str) and part.startswith("{")
            for _, body, _ in json.loads(part).values()
        }
        assert set(templates) <= fingerprinted

    return run_stack("dev").settled().apply(check)
