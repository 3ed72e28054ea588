"""Stack configuration: the schema in Pulumi.yaml, validation errors, dev versus prod."""

from __future__ import annotations

import json
from enum import StrEnum

import pulumi
import pytest
import yaml
from pydantic import BaseModel

from otp_service.components.args_from_config import _typed_keys
from otp_service.components.iam import parse_policy
from otp_service.components.options import (
    FraudGuardArgs,
    InfrastructureOptions,
    InvalidArgumentError,
    argument_names,
)
from otp_service.handlers.fraud import FraudPolicy
from otp_service.handlers.messages import Autofill
from otp_service.handlers.settings import (
    ENV_ANDROID_APP_HASH,
    ENV_FRAUD_GUARD,
    ENV_WEB_OTP_DOMAIN,
    Policy,
    Settings,
)
from tests.support.pulumi_mocks import PROJECT, PROJECT_ROOT, Recording, RunProgram, pulumi_test

APP_HASH = "FA+9qCX9VSu"


def test_pulumi_yaml_declares_every_argument_and_no_other_key() -> None:
    assert set(PROJECT.schema) == argument_names()


def test_pulumi_yaml_types_match_how_the_program_reads_each_key() -> None:
    """Pulumi.yaml, the args and the options declare one type per key (throttleRateLimit was
    an integer in Pulumi.yaml and a float in the component)."""
    pulumi_type = {int: "integer", bool: "boolean", str: "string", tuple: "array", dict: "object"}
    for model in (Policy, InfrastructureOptions):
        for _, key, kind in _typed_keys(model):
            if issubclass(kind, StrEnum):
                expected = "string"
            elif issubclass(kind, BaseModel):
                expected = "object"
            else:
                expected = pulumi_type[kind]
            assert PROJECT.schema[key]["type"] == expected, key


def test_pulumi_yaml_defaults_match_the_component_defaults() -> None:
    defaults = {key: spec["default"] for key, spec in PROJECT.schema.items()}
    for name, field in Policy.model_fields.items():
        expected = field.default
        assert defaults[field.alias or name] == (
            list(expected) if isinstance(expected, tuple) else expected
        )
    for name, field in InfrastructureOptions.model_fields.items():
        expected = field.default if field.default is not None else ""
        if isinstance(expected, BaseModel):  # an object key: its default object has the defaults
            assert type(expected).model_validate(defaults[field.alias or name]) == expected, name
        else:
            assert defaults[field.alias or name] == expected, name
    assert defaults["alarmEmail"] == ""


def test_every_stack_file_sets_only_declared_keys() -> None:
    for stack in ("dev", "prod"):
        config = yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        project_keys = {key.split(":", 1)[1] for key in config if key.startswith("otp-service:")}
        assert project_keys <= argument_names(), stack
        assert config["aws:region"]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("codeLength", 4, "codeLength must be between 6 and 10"),
        ("codeTtlSeconds", 900, "codeTtlSeconds must be between 30 and 600"),
        ("maxVerifyAttempts", 0, "maxVerifyAttempts must be between 1 and 10"),
        ("allowedCountryCodes", ["1", "+44"], "allowedCountryCodes: each entry must be"),
        ("logRetentionDays", 10, "logRetentionDays: must be one of 1, 3, 5, 7"),
        ("throttleBurstLimit", 0, "throttleBurstLimit must be between 1 and 5000"),
        ("smsSenderId", "way-too-long-id", "smsSenderId: must be 1-11 letters or digits"),
        ("emailSender", "not-an-address", "emailSender: must be an email address"),
        ("authMode", "anonymous", "authMode must be 'iam' or 'apiKey'"),
        ("environment", "staging", "environment must be 'development' or 'production'"),
        ("testDestinations", {"+15555550100": "12345"}, "testDestinations: every code must be 6"),
        ("testDestinations", {"alice": "123456"}, "testDestinations: every key must be an E.164"),
        ("smsOriginationNumber", "18885550100", "smsOriginationNumber: String should match"),
        ("fraudGuard", {"minSends": 1}, "fraudGuard.minSends must be between 3 and 100000"),
        (
            "fraudGuard",
            {"minConversion": 1.5},
            "fraudGuard.minConversion must be more than 0.0 and less than 1.0",
        ),
        ("fraudGuard", {"safeList": ["4479"]}, r"fraudGuard.safeList: each entry must be \+"),
        ("fraudGuard", {"countryDailyBudgets": {"+44": 5}}, "fraudGuard.countryDailyBudgets: "),
        ("fraudGuard", {"blockSeconds": 600, "maxBlockSeconds": 300}, "fraudGuard: maxBlockSec"),
        (
            "fraudGuard",
            {"minSend": 10},
            "fraudGuard.minSend is not a known argument; did you mean 'minSends'",
        ),
        ("fraudGuard", {"enabled": "yes please"}, "fraudGuard.enabled"),
        ("webOtpDomain", "https://example.com", "webOtpDomain: must be a host name"),
        ("webOtpDomain", "example.com:443", "webOtpDomain: must be a host name"),
        ("webOtpDomain", "127.0.0.1", "webOtpDomain: must be a host name"),
        ("webOtpDomain", "localhost", "webOtpDomain: must be a host name"),
        ("androidAppHash", "FA+9qCX9VS", "androidAppHash: must be the app's 11-character hash"),
        ("androidAppHash", "FA+9qCX9VS=", "androidAppHash: must be the app's 11-character hash"),
    ],
)
def test_invalid_config_fails_naming_the_key_and_its_range(
    run_stack: RunProgram, key: str, value: object, expected: str
) -> None:
    @pulumi_test
    def deploy() -> pulumi.Output[Recording]:
        return run_stack("dev", **{key: value}).settled()

    with pytest.raises(InvalidArgumentError, match=expected):
        deploy()


def test_a_production_stack_refuses_test_destinations(run_stack: RunProgram) -> None:
    @pulumi_test
    def deploy() -> pulumi.Output[Recording]:
        return run_stack("prod", testDestinations={"+15555550100": "123456"}).settled()

    with pytest.raises(InvalidArgumentError, match="allowTestDestinationsInProduction"):
        deploy()


@pulumi_test
def test_a_production_stack_keeps_test_destinations_when_explicitly_allowed(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        environment = recording.named("otp-request-token-fn").inputs["environment"]["variables"]
        policy = json.loads(environment["OTP_POLICY"])
        assert policy["testDestinations"] == {"+15555550100": "12345678"}

    return (
        run_stack(
            "prod",
            codeLength=8,
            testDestinations={"+15555550100": "12345678"},
            allowTestDestinationsInProduction=True,
        )
        .settled()
        .apply(check)
    )


def test_a_mistyped_config_value_names_the_key(run_stack: RunProgram) -> None:
    @pulumi_test
    def deploy() -> pulumi.Output[Recording]:
        return run_stack("dev", codeLength="six").settled()

    with pytest.raises(pulumi.ConfigTypeError, match="codeLength"):
        deploy()


@pulumi_test
def test_prod_is_hardened_where_dev_is_not(run_stack: RunProgram) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        table = recording.one("aws:dynamodb/table:Table").inputs
        assert table["deletionProtectionEnabled"] is True
        groups = recording.of_type("aws:cloudwatch/logGroup:LogGroup")
        assert {group.inputs["retentionInDays"] for group in groups} == {365}
        acl = recording.one("aws:wafv2/webAcl:WebAcl").inputs
        rule = acl["rules"][0]["statement"]["rateBasedStatement"]
        assert (rule["limit"], rule["aggregateKeyType"]) == (100, "IP")
        association = recording.one("aws:wafv2/webAclAssociation:WebAclAssociation").inputs
        assert association["resourceArn"].endswith("/stages/v1")
        settings = recording.one("aws:apigateway/methodSettings:MethodSettings").inputs
        assert settings["settings"]["throttlingRateLimit"] == 50
        subscription = recording.named("otp-alarms-email").inputs
        assert (subscription["protocol"], subscription["endpoint"]) == (
            "email",
            "oncall@example.com",
        )
        spend = recording.named("otp-sms-spend-alarm").inputs
        assert spend["threshold"] == 400
        preferences = recording.one("aws:sns/smsPreferences:SmsPreferences").inputs
        assert preferences["monthlySpendLimit"] == 500
        assert preferences["defaultSmsType"] == "Transactional"
        assert "otp-email-delivery-failed-alarm" in {r.name for r in recording.resources}

    return run_stack("prod").settled().apply(check)


@pulumi_test
def test_prod_sends_email_only_from_the_configured_sender(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        statements = parse_policy(recording.named("otp-request-token-policy").inputs["policy"])
        ses = [s for s in statements if s["Action"] == ["ses:SendEmail"]]
        assert ses == [
            {
                "Sid": "SendEmailFromConfiguredSender",
                "Effect": "Allow",
                "Action": ["ses:SendEmail"],
                "Resource": [
                    "arn:aws:ses:us-east-1:123456789012:identity/no-reply@example.com",
                    "arn:aws:ses:us-east-1:123456789012:identity/example.com",
                    # The set request-token sends through, for delivery receipts.
                    "arn:aws:ses:us-east-1:123456789012:configuration-set/otp-service-prod-otp-receipts",
                ],
                "Condition": {"StringEquals": {"ses:FromAddress": "no-reply@example.com"}},
            }
        ]
        environment = recording.named("otp-request-token-fn").inputs["environment"]["variables"]
        assert environment["OTP_EMAIL_SENDER"] == "no-reply@example.com"
        assert environment["OTP_RECEIPTS_CONFIGURATION_SET"] == "otp-service-prod-otp-receipts"
        assert environment["OTP_SMS_SENDER_ID"] == "Example"
        assert Policy.model_validate_json(environment["OTP_POLICY"]).max_verify_attempts == 3

    return run_stack("prod").settled().apply(check)


@pulumi_test
def test_sms_delivery_logging_role_writes_only_the_sns_sms_log_groups(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        statements = parse_policy(
            recording.named("otp-sms-delivery-status-policy").inputs["policy"]
        )
        resources = [r for s in statements for r in s["Resource"]]
        assert resources
        assert all(
            r.startswith(
                "arn:aws:logs:us-east-1:123456789012:log-group:"
                "sns/us-east-1/123456789012/DirectPublishToPhoneNumber"
            )
            for r in resources
        ), resources

    return run_stack("prod").settled().apply(check)


@pulumi_test
def test_api_key_mode_requires_a_key_on_every_route_with_a_throttled_plan(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        for method in recording.of_type("aws:apigateway/method:Method"):
            assert method.inputs["apiKeyRequired"] is True, method.name
        plan = recording.one("aws:apigateway/usagePlan:UsagePlan").inputs
        assert plan["throttleSettings"] == {"burstLimit": 10, "rateLimit": 5}
        assert plan["quotaSettings"] == {"limit": 10000, "period": "DAY"}
        key = recording.one("aws:apigateway/apiKey:ApiKey")
        plan_key = recording.one("aws:apigateway/usagePlanKey:UsagePlanKey").inputs
        assert plan_key["keyId"] == f"{key.name}-id"

    return run_stack("dev", authMode="apiKey").settled().apply(check)


def test_fraud_guard_args_name_every_fraud_policy_key() -> None:
    """The package schema's `fraudGuard` object and the model that validates it agree."""
    assert set(FraudGuardArgs.__annotations__) == set(FraudPolicy.model_fields)


@pulumi_test
def test_fraud_guard_config_reaches_request_token_and_events_only(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    fraud_guard = {"minSends": 12, "safeList": ["+4479"], "countryDailyBudgets": {"44": 500}}
    expected = FraudPolicy.model_validate(fraud_guard)

    def check(recording: Recording) -> None:
        for name in ("otp-request-token-fn", "otp-events-fn"):
            variables = recording.named(name).inputs["environment"]["variables"]
            assert Settings.from_env(variables).fraud_guard == expected, name
        for name in ("otp-verify-token-fn", "otp-cancel-token-fn"):
            variables = recording.named(name).inputs["environment"]["variables"]
            assert ENV_FRAUD_GUARD not in variables, name

    return run_stack("dev", fraudGuard=fraud_guard).settled().apply(check)


@pulumi_test
def test_autofill_config_reaches_request_token_only(run_stack: RunProgram) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        variables = recording.named("otp-request-token-fn").inputs["environment"]["variables"]
        assert Settings.from_env(variables).autofill == Autofill("login.example.com", APP_HASH)
        for name in ("otp-verify-token-fn", "otp-cancel-token-fn", "otp-events-fn"):
            variables = recording.named(name).inputs["environment"]["variables"]
            assert not {ENV_WEB_OTP_DOMAIN, ENV_ANDROID_APP_HASH} & set(variables), name

    autofill = {"webOtpDomain": "Login.Example.com", "androidAppHash": APP_HASH}
    return run_stack("dev", **autofill).settled().apply(check)


def test_autofill_that_would_split_the_sms_stops_the_program(run_stack: RunProgram) -> None:
    @pulumi_test
    def deploy() -> pulumi.Output[Recording]:
        return run_stack(
            "dev", webOtpDomain="otp-verification.accounts.example.com", androidAppHash=APP_HASH
        ).settled()

    with pytest.raises(
        InvalidArgumentError, match="webOtpDomain and androidAppHash make the 'de' SMS 164 GSM-7"
    ):
        deploy()
