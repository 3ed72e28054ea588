"""The real stack program with Pulumi.dev.yaml's config, checked resource by resource."""

from __future__ import annotations

import json
from typing import Any

import pulumi

from otp_service.components.functions import FUNCTION_TIMEOUT_SECONDS
from otp_service.components.iam import parse_policy
from otp_service.handlers.metric_names import NAMESPACE, Metric
from otp_service.handlers.settings import Policy, Settings
from otp_service.handlers.table import PARTITION_KEY, TTL_ATTRIBUTE
from tests.support.pulumi_mocks import RecordedResource, Recording, RunProgram, pulumi_test

COMPONENT = "otp:index:OtpService"
API_GATEWAY_TIMEOUT_SECONDS = 29
"""API Gateway's default integration timeout for a REST API."""
DOCUMENTED_WILDCARDS = {
    # SMS to a phone number has no resource ARN; a Deny on every topic narrows it.
    ("sns:Publish",),
    # X-Ray supports no resource-level permissions.
    ("xray:PutTelemetryRecords", "xray:PutTraceSegments"),
    # Neither does ListStreams, which the events function's stream mapping needs.
    ("dynamodb:ListStreams",),
}


def service_key_arn(recording: Recording) -> str:
    key = recording.named("otp-key")
    return f"arn:aws:kms:us-east-1:123456789012:key/{key.name}-id"


def function_for(recording: Recording, path: str) -> RecordedResource:
    return recording.named(f"otp-{path}-fn")


def role_statements(recording: Recording) -> dict[str, list[dict[str, Any]]]:
    return {
        policy.name: parse_policy(policy.inputs["policy"])
        for policy in recording.of_type("aws:iam/rolePolicy:RolePolicy")
        + recording.of_type("aws:iam/policy:Policy")
    }


def allowed_actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements if s["Effect"] == "Allow" for a in s["Action"]}


@pulumi_test
def test_everything_at_rest_is_encrypted_with_the_service_key(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        key_arn = service_key_arn(recording)
        table = recording.one("aws:dynamodb/table:Table")
        assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": key_arn}
        log_groups = recording.of_type("aws:cloudwatch/logGroup:LogGroup")
        assert len(log_groups) == 7  # four routes, the events and receipts functions, the API
        assert {group.inputs["kmsKeyId"] for group in log_groups} == {key_arn}
        topics = recording.of_type("aws:sns/topic:Topic")
        assert sorted(topic.name for topic in topics) == ["otp-alarms", "otp-events"]
        assert {topic.inputs["kmsMasterKeyId"] for topic in topics} == {key_arn}
        queues = recording.of_type("aws:sqs/queue:Queue")
        assert sorted(queue.name for queue in queues) == ["otp-events-dlq", "otp-receipts-dlq"]
        assert {queue.inputs["kmsMasterKeyId"] for queue in queues} == {key_arn}
        functions = recording.of_type("aws:lambda/function:Function")
        assert {function.inputs["kmsKeyArn"] for function in functions} == {key_arn}

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_service_key_rotates_and_mac_key_is_an_hmac_key(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        assert recording.named("otp-key").inputs["enableKeyRotation"] is True
        mac_key = recording.named("otp-mac-key").inputs
        assert mac_key["keyUsage"] == "GENERATE_VERIFY_MAC"
        assert mac_key["customerMasterKeySpec"] == "HMAC_256"
        for key in recording.of_type("aws:kms/key:Key"):
            for statement in parse_policy(key.inputs["policy"]):
                if statement["Sid"] != "AccountIamPoliciesDecide":
                    assert "Service" in statement["Principal"], statement
                    assert "Condition" in statement, statement

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_no_iam_wildcard_beyond_the_documented_ones(run_stack: RunProgram) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        wildcards = set()
        for statements in role_statements(recording).values():
            for statement in statements:
                if statement["Effect"] != "Allow":
                    continue
                assert all("*" not in action for action in statement["Action"]), statement
                if "*" in statement["Resource"]:
                    assert statement["Resource"] == ["*"], statement
                    wildcards.add(tuple(statement["Action"]))
        assert wildcards == DOCUMENTED_WILDCARDS
        assert not recording.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_sms_publish_is_denied_for_every_topic(run_stack: RunProgram) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        statements = role_statements(recording)["otp-request-token-policy"]
        denies = [s for s in statements if s["Effect"] == "Deny"]
        assert denies == [
            {
                "Sid": "NeverPublishToTopics",
                "Effect": "Deny",
                "Action": ["sns:Publish"],
                "Resource": ["arn:*:sns:*:*:*"],
            }
        ]

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_each_role_holds_exactly_the_actions_its_handler_calls(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        common = {
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "xray:PutTelemetryRecords",
            "xray:PutTraceSegments",
            "kms:Decrypt",
        }
        statements = role_statements(recording)
        assert allowed_actions(statements["otp-cancel-token-policy"]) == common | {
            "dynamodb:UpdateItem"
        }
        assert allowed_actions(statements["otp-verify-token-policy"]) == common | {
            "dynamodb:UpdateItem",
            "kms:GenerateMac",
        }
        assert allowed_actions(statements["otp-request-token-policy"]) == common | {
            "dynamodb:ConditionCheckItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "kms:GenerateMac",
            "sns:Publish",
        }

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_roles_reach_only_their_own_table_keys_and_log_group(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        table_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/otp-table-1a2b3c4"
        mac_key_arn = "arn:aws:kms:us-east-1:123456789012:key/otp-mac-key-id"
        for path in ("request-token", "verify-token", "cancel-token"):
            statements = role_statements(recording)[f"otp-{path}-policy"]
            log_group = f"arn:aws:logs:us-east-1:123456789012:log-group:otp-{path}-logs-1a2b3c4:*"
            for statement in statements:
                actions = statement["Action"]
                if actions[0].startswith("dynamodb:"):
                    assert statement["Resource"] == [table_arn]
                elif actions == ["kms:GenerateMac"]:
                    assert statement["Resource"] == [mac_key_arn]
                elif actions == ["kms:Decrypt"]:
                    assert statement["Resource"] == [service_key_arn(recording)]
                elif actions[0].startswith("logs:"):
                    assert statement["Resource"] == [log_group]

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_there_is_an_alarm_for_each_failure_mode(run_stack: RunProgram) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        alarms = {
            alarm.name for alarm in recording.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        }
        per_function = {
            f"otp-{path}-{mode}-alarm"
            for path in (
                "request-token",
                "verify-token",
                "cancel-token",
                "verifications-id",
                "events",
                "receipts",
            )
            for mode in ("errors", "throttles", "duration")
        }
        service_wide = {
            f"otp-{mode}-alarm"
            for mode in (
                "api-5xx",
                "api-latency",
                "table-throttles",
                "table-system-errors",
                "sms-delivery-failed",
                "sms-carrier-failed",
                "sms-success-rate",
                "lockout-spike",
                "dependency-unavailable",
                "events-dead-letters",
                "events-iterator-age",
                "fraud-prefix-blocked",
                "fraud-blocked-sends",
                "fraud-guard-failed",
                "sms-budget-exhausted",
                "sms-budget-near",
                "receipts-dead-letters",
            )
        }
        assert alarms == per_function | service_wide

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_every_alarm_notifies_the_alarm_topic(run_stack: RunProgram) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        topic_arn = (
            f"arn:aws:sns:us-east-1:123456789012:{recording.named('otp-alarms').name}-1a2b3c4"
        )
        for alarm in recording.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
            assert alarm.inputs["alarmActions"] == [topic_arn], alarm.name
            assert alarm.inputs["okActions"] == [topic_arn], alarm.name

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_lockout_alarm_sums_every_channel(run_stack: RunProgram) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        lockouts = recording.named("otp-lockout-spike-alarm").inputs
        assert lockouts["threshold"] == 5
        summed = [q for q in lockouts["metricQueries"] if "metric" in q]
        assert {q["metric"]["dimensions"]["channel"] for q in summed} == {"sms", "email", "unknown"}
        assert {q["metric"]["namespace"] for q in summed} == {"OtpService"}

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_every_route_requires_sigv4_and_targets_its_function(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        methods = recording.of_type("aws:apigateway/method:Method")
        assert sorted((m.name, m.inputs["httpMethod"]) for m in methods) == [
            ("otp-cancel-token-method", "POST"),
            ("otp-request-token-method", "POST"),
            ("otp-verifications-id-method", "GET"),
            ("otp-verify-token-method", "POST"),
        ]
        for method in methods:
            assert method.inputs["authorization"] == "AWS_IAM", method.name
        resources = {r.name: r for r in recording.of_type("aws:apigateway/resource:Resource")}
        assert {r.inputs["pathPart"] for r in resources.values()} == {
            "request-token",
            "verify-token",
            "cancel-token",
            "verifications",
            "{verification_id}",
        }
        status = resources["otp-verifications-id-resource"].inputs
        assert status["parentId"] == "otp-verifications-resource-id"
        handlers = {
            "request-token": "request_token",
            "verify-token": "verify_token",
            "cancel-token": "cancel_token",
            "verifications-id": "get_verification",
        }
        for integration in recording.of_type("aws:apigateway/integration:Integration"):
            path = integration.name.removeprefix("otp-").removesuffix("-integration")
            function = function_for(recording, path)
            assert integration.inputs["resourceId"] == f"otp-{path}-resource-id"
            assert integration.inputs["type"] == "AWS_PROXY"
            assert integration.inputs["integrationHttpMethod"] == "POST"
            assert integration.inputs["uri"].endswith(
                f"function:{function.name}-1a2b3c4/invocations"
            )
            assert function.inputs["handler"] == f"handlers.{handlers[path]}.handler"

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_stage_is_throttled_traced_and_access_logged(run_stack: RunProgram) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        settings = recording.one("aws:apigateway/methodSettings:MethodSettings").inputs
        assert settings["methodPath"] == "*/*"
        assert settings["settings"]["throttlingRateLimit"] == 5
        assert settings["settings"]["throttlingBurstLimit"] == 10
        stage = recording.one("aws:apigateway/stage:Stage").inputs
        assert stage["xrayTracingEnabled"] is True
        access_logs = recording.named("otp-api-access-logs")
        assert stage["accessLogSettings"]["destinationArn"].endswith(f"{access_logs.name}-1a2b3c4")
        assert "$context.requestId" in json.loads(stage["accessLogSettings"]["format"]).values()
        assert not recording.of_type("aws:wafv2/webAcl:WebAcl")

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_log_groups_keep_logs_for_the_configured_days(run_stack: RunProgram) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        for group in recording.of_type("aws:cloudwatch/logGroup:LogGroup"):
            assert group.inputs["retentionInDays"] == 7, group.name
        for path in ("request-token", "verify-token", "cancel-token"):
            logging = function_for(recording, path).inputs["loggingConfig"]
            assert logging["logGroup"] == f"otp-{path}-logs-1a2b3c4"

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_table_uses_the_handlers_key_schema_ttl_and_pitr(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        table = recording.one("aws:dynamodb/table:Table").inputs
        assert table["hashKey"] == PARTITION_KEY
        assert "rangeKey" not in table
        assert table["attributes"] == [{"name": PARTITION_KEY, "type": "S"}]
        assert table["ttl"] == {"attributeName": TTL_ATTRIBUTE, "enabled": True}
        assert table["pointInTimeRecovery"] == {"enabled": True}
        assert table["billingMode"] == "PAY_PER_REQUEST"
        assert table["deletionProtectionEnabled"] is False

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_every_child_is_parented_to_the_component(run_stack: RunProgram) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        component = recording.one(COMPONENT)
        children = [r for r in recording.resources if r is not component]
        assert len(children) > 50
        for child in children:
            assert child.parent == component.urn, child.name
            assert child.name.startswith("otp-"), child.name

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_functions_run_python312_on_arm64_with_the_program_s_own_layer_only(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        layer = recording.one("aws:lambda/layerVersion:LayerVersion").inputs
        assert layer["compatibleRuntimes"] == ["python3.12"]
        assert layer["compatibleArchitectures"] == ["arm64"]
        for function in recording.of_type("aws:lambda/function:Function"):
            inputs = function.inputs
            assert inputs["runtime"] == "python3.12"
            assert inputs["architectures"] == ["arm64"]
            assert inputs["timeout"] == FUNCTION_TIMEOUT_SECONDS < API_GATEWAY_TIMEOUT_SECONDS
            assert inputs["memorySize"] == 256
            assert inputs["tracingConfig"] == {"mode": "Active"}
            # One layer, built here from the lock: no public layer with its own library versions.
            [layer_arn] = inputs["layers"]
            assert layer_arn.startswith("arn:aws:lambda:us-east-1:123456789012:layer:")

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_each_function_gets_only_the_environment_it_reads(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        shared = {
            "OTP_TABLE_NAME",
            "OTP_POLICY",
            "POWERTOOLS_SERVICE_NAME",
            "POWERTOOLS_METRICS_NAMESPACE",
            "POWERTOOLS_LOG_LEVEL",
            "PYDANTIC_DISABLE_PLUGINS",
        }
        environments = {
            path: function_for(recording, path).inputs["environment"]["variables"]
            for path in ("request-token", "verify-token", "cancel-token")
        }
        assert set(environments["cancel-token"]) == shared
        assert set(environments["verify-token"]) == shared | {"OTP_MAC_KEY_ID"}
        assert set(environments["request-token"]) == shared | {
            "OTP_MAC_KEY_ID",
            "OTP_BRAND_NAME",
            "OTP_FRAUD_GUARD",
        }
        for environment in environments.values():
            assert environment["POWERTOOLS_SERVICE_NAME"] == "otp"
            assert environment["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE
            assert environment["PYDANTIC_DISABLE_PLUGINS"] == "__all__"
            policy = Policy.model_validate_json(environment["OTP_POLICY"])
            assert policy == Policy(test_destinations={"+15555550100": "123456"})
            Settings.from_env(environment)  # the handlers accept what they are given
        assert environments["request-token"]["OTP_BRAND_NAME"] == "OTP Dev"

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_stack_exports_what_a_consumer_needs(run_stack: RunProgram) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        assert set(recording.stack_outputs) == {
            "api_url",
            "table_name",
            "table_arn",
            "alarm_topic_arn",
            "events_topic_arn",
            "request_token_function_name",
            "verify_token_function_name",
            "cancel_token_function_name",
            "invoke_policy_arn",
            "fraud_admin_policy_arn",
            "api_key_id",
        }
        invoke = parse_policy(recording.named("otp-invoke-policy").inputs["policy"])
        assert invoke[0]["Action"] == ["execute-api:Invoke"]
        assert sorted(invoke[0]["Resource"]) == [
            f"arn:aws:execute-api:us-east-1:123456789012:otp-api-id/v1/{path}"
            for path in (
                "GET/verifications/*",
                "POST/cancel-token",
                "POST/request-token",
                "POST/verify-token",
            )
        ]

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_raising_the_mac_key_generation_keeps_the_previous_key_for_request_and_verify(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    """A rotation window: new codes use generation 2; codes in flight still verify under 1, and
    destinations counted under 1 still count."""

    def check(recording: Recording) -> None:
        keys = {
            key.name: key
            for key in recording.of_type("aws:kms/key:Key")
            if key.inputs.get("keyUsage") == "GENERATE_VERIFY_MAC"
        }
        assert set(keys) == {"otp-mac-key", "otp-mac-key-2"}
        current = "arn:aws:kms:us-east-1:123456789012:key/otp-mac-key-2-id"
        retired = "arn:aws:kms:us-east-1:123456789012:key/otp-mac-key-id"
        assert (
            function_for(recording, "request-token").inputs["environment"]["variables"][
                "OTP_MAC_KEY_ID"
            ]
            == current
        )
        verify_environment = function_for(recording, "verify-token").inputs["environment"]
        assert verify_environment["variables"]["OTP_MAC_KEY_ID"] == current
        assert verify_environment["variables"]["OTP_RETIRED_MAC_KEY_ID"] == retired
        statements = role_statements(recording)
        mac_grants = {
            path: [
                s["Resource"]
                for s in statements[f"otp-{path}-policy"]
                if s["Action"] == ["kms:GenerateMac"]
            ]
            for path in ("request-token", "verify-token")
        }
        assert mac_grants == {
            "request-token": [[current, retired]],
            "verify-token": [[current, retired]],
        }
        request_environment = function_for(recording, "request-token").inputs["environment"]
        assert request_environment["variables"]["OTP_RETIRED_MAC_KEY_ID"] == retired

    return run_stack("dev", macKeyGeneration=2).settled().apply(check)


@pulumi_test
def test_the_dashboard_charts_every_metric_the_handlers_emit(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    """Handlers count only `Metric` members, so each one must have a row on the dashboard."""

    def check(recording: Recording) -> None:
        body = json.loads(
            recording.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"]
        )
        charted = {
            row[1]
            for widget in body["widgets"]
            for row in widget["properties"].get("metrics", [])
            if row and row[0] == NAMESPACE
        }
        assert charted == {metric.value for metric in Metric}

    return run_stack("dev").settled().apply(check)
