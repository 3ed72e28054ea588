"""OtpService served to other languages: the schema the package host derives, and construct."""

from __future__ import annotations

import json
import runpy
from collections.abc import Callable
from typing import Any

import pulumi
import yaml
from pulumi.provider.experimental.component import ComponentProvider

from otp_service.components import OtpService
from otp_service.components.options import argument_names
from otp_service.handlers.settings import Policy
from tests.support.pulumi_mocks import PROJECT_ROOT, Deployment, Recording, pulumi_test

PROVIDER = PROJECT_ROOT / "provider"


def derived_schema() -> dict[str, Any]:
    provider = ComponentProvider([OtpService], "otp")
    assert provider.schema is not None
    schema: dict[str, Any] = json.loads(provider.schema)
    return schema


def test_schema_offers_every_argument_with_its_description() -> None:
    resource = derived_schema()["resources"]["otp:index:OtpService"]
    assert resource["isComponent"] is True
    inputs = resource["inputProperties"]
    assert set(inputs) == argument_names()
    assert all(spec.get("description") for spec in inputs.values())
    assert resource.get("requiredInputs", []) == []
    assert inputs["codeLength"]["type"] == "integer"
    assert inputs["allowedCountryCodes"]["items"]["type"] == "string"


def test_schema_exposes_the_consumer_outputs_and_the_auth_mode_enum() -> None:
    schema = derived_schema()
    outputs = schema["resources"]["otp:index:OtpService"]["properties"]
    assert set(outputs) == {
        "apiUrl",
        "tableName",
        "tableArn",
        "alarmTopicArn",
        "eventsTopicArn",
        "requestTokenFunctionName",
        "verifyTokenFunctionName",
        "cancelTokenFunctionName",
        "invokePolicyArn",
        "fraudAdminPolicyArn",
        "apiKeyId",
    }
    enum = schema["types"]["otp:index:AuthMode"]
    assert {value["value"] for value in enum["enum"]} == {"iam", "apiKey"}


def test_plugin_runs_the_host_entry_point_with_python() -> None:
    plugin = yaml.safe_load((PROVIDER / "PulumiPlugin.yaml").read_text())
    assert plugin["runtime"]["name"] == "python"
    module = runpy.run_path(str(PROVIDER / "__main__.py"), run_name="otp_provider")
    assert callable(module["component_provider_host"])
    assert module["OtpService"] is OtpService


def test_construct_through_the_host_builds_the_component_from_schema_names(
    fresh_mocks: Callable[[str], Deployment],
) -> None:
    @pulumi_test
    def construct() -> pulumi.Output[None]:
        deployment = fresh_mocks("test")
        provider = ComponentProvider([OtpService], "otp")
        provider.construct(
            "svc", "otp:index:OtpService", {"codeLength": 8, "authMode": "apiKey"}, None
        )

        def check(recording: Recording) -> None:
            assert recording.one("otp:index:OtpService").name == "svc"
            function = recording.named("svc-verify-token-fn")
            policy = function.inputs["environment"]["variables"]["OTP_POLICY"]
            assert Policy.model_validate_json(policy).code_length == 8
            for method in recording.of_type("aws:apigateway/method:Method"):
                assert method.inputs["apiKeyRequired"] is True

        return deployment.settled().apply(check)

    construct()
