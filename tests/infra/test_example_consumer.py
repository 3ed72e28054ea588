"""The example consumer stack, run under mocks: it imports the installed component by package."""

from __future__ import annotations

import runpy
import sys
from collections.abc import Callable, Iterator

import pulumi
import pytest

from otp_service.components.iam import parse_policy
from otp_service.handlers.settings import Policy
from tests.support.pulumi_mocks import PROJECT_ROOT, Deployment, Recording, pulumi_test

CONSUMER = PROJECT_ROOT / "examples" / "consumer"


@pytest.fixture
def consumer_on_path() -> Iterator[None]:
    """The consumer's directory first on sys.path, as when Pulumi runs its program."""
    saved = sys.modules.pop("components", None)
    sys.path.insert(0, str(CONSUMER))
    try:
        yield
    finally:
        sys.path.remove(str(CONSUMER))
        sys.modules.pop("components", None)
        if saved is not None:
            sys.modules["components"] = saved


@pytest.mark.usefixtures("consumer_on_path")
def test_consumer_deploys_the_component_beside_its_own_components_package(
    fresh_mocks: Callable[[str], Deployment],
) -> None:
    @pulumi_test
    def deploy() -> pulumi.Output[None]:
        deployment = fresh_mocks("demo")
        runpy.run_path(str(CONSUMER / "__main__.py"), run_name="__main__")

        def check(recording: Recording) -> None:
            assert sys.modules["components"].__file__ == str(
                CONSUMER / "components" / "__init__.py"
            )
            component = recording.one("otp:index:OtpService")
            assert component.name == "login-otp"
            verify = recording.named("login-otp-verify-token-fn").inputs
            policy = Policy.model_validate_json(verify["environment"]["variables"]["OTP_POLICY"])
            assert (policy.code_length, policy.allowed_country_codes) == (8, ("1", "44"))
            attachment = recording.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
            invoke_policy = recording.named("login-otp-invoke-policy")
            assert attachment.inputs["policyArn"].endswith(f"policy/{invoke_policy.name}-1a2b3c4")
            assert attachment.inputs["role"] == "backend-1a2b3c4"
            statement = parse_policy(invoke_policy.inputs["policy"])[0]
            assert statement["Action"] == ["execute-api:Invoke"]
            assert set(recording.stack_outputs) == {"otp_api_url", "otp_alarm_topic_arn"}
            [subscription] = [
                found
                for found in recording.of_type("aws:sns/topicSubscription:TopicSubscription")
                if found.inputs["protocol"] == "email"
            ]
            assert subscription.inputs["endpoint"] == "ops@acme.example"

        return deployment.settled().apply(check)

    deploy()
