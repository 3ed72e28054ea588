"""What a first real `pulumi up` needs and mocks do not check (issue 10), finding by finding.

Each test encodes what AWS itself requires; docs/deploy.md cites the documentation.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi

from otp_service.components.iam import parse_policy
from tests.support.pulumi_mocks import Recording, RunProgram, pulumi_test

ACCOUNT = "123456789012"
REGION = "us-east-1"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def _statement(recording: Recording, policy_name: str, sid: str) -> dict[str, Any]:
    statements = parse_policy(recording.named(policy_name).inputs["policy"])
    [found] = [s for s in statements if s["Sid"] == sid]
    return found


@pulumi_test
def test_the_account_logging_setting_its_role_and_policy_survive_a_destroy(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    """Destroying `aws.apigateway.Account` resets the region's setting for every API."""

    def check(recording: Recording) -> None:
        account = recording.one("aws:apigateway/account:Account")
        role = recording.named("otp-apigateway-logs-role")
        policy = recording.named("otp-apigateway-logs-policy")
        assert account.retain_on_delete and role.retain_on_delete and policy.retain_on_delete
        stage = recording.one("aws:apigateway/stage:Stage")
        assert account.urn in stage.dependencies

    return run_stack("dev", manageApiGatewayAccount=True).settled().apply(check)


@pulumi_test
def test_a_stack_that_does_not_own_the_account_setting_leaves_it_alone(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        assert recording.of_type("aws:apigateway/account:Account") == []

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_existing_sms_delivery_log_groups_are_not_created_again(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        names = {
            g.inputs.get("name") for g in recording.of_type("aws:cloudwatch/logGroup:LogGroup")
        }
        assert not [n for n in names if n and n.startswith("sns/")]
        role_policy = _statement(
            recording, "otp-sms-delivery-status-policy", "WriteSmsDeliveryStatus"
        )
        prefix = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:sns/{REGION}/{ACCOUNT}/"
        assert sorted(role_policy["Resource"]) == sorted(
            [
                f"{prefix}DirectPublishToPhoneNumber",
                f"{prefix}DirectPublishToPhoneNumber:*",
                f"{prefix}DirectPublishToPhoneNumber/Failure",
                f"{prefix}DirectPublishToPhoneNumber/Failure:*",
            ]
        )

    return run_stack("prod", createSmsDeliveryLogGroups=False).settled().apply(check)


@pulumi_test
def test_a_stack_that_owns_sms_preferences_creates_the_delivery_log_groups(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        names = {
            g.inputs.get("name") for g in recording.of_type("aws:cloudwatch/logGroup:LogGroup")
        }
        assert {
            f"sns/{REGION}/{ACCOUNT}/DirectPublishToPhoneNumber",
            f"sns/{REGION}/{ACCOUNT}/DirectPublishToPhoneNumber/Failure",
        } <= names

    return run_stack("prod").settled().apply(check)


@pulumi_test
def test_the_origination_number_reaches_request_token_only(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        for function in recording.of_type("aws:lambda/function:Function"):
            variables = function.inputs["environment"]["variables"]
            expected = "+18885550100" if function.name == "otp-request-token-fn" else None
            assert variables.get("OTP_SMS_ORIGINATION_NUMBER") == expected, function.name

    return run_stack("dev", smsOriginationNumber="+18885550100").settled().apply(check)


@pulumi_test
def test_sms_carrier_failures_are_watched_where_sns_reports_direct_sms(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    """SNS reports SMS published to a phone number under `PhoneNumber=PhoneNumberDirect`."""

    def check(recording: Recording) -> None:
        alarm = recording.named("otp-sms-carrier-failed-alarm").inputs
        assert alarm["namespace"] == "AWS/SNS"
        assert alarm["dimensions"] == {"PhoneNumber": "PhoneNumberDirect"}
        body = json.loads(
            recording.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"]
        )
        sns_rows = [
            row
            for widget in body["widgets"]
            for row in widget["properties"]["metrics"]
            if row and row[0] == "AWS/SNS" and "PhoneNumber" in row
        ]
        assert len(sns_rows) == 2
        assert all(row[row.index("PhoneNumber") + 1] == "PhoneNumberDirect" for row in sns_rows)

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_sms_success_rate_alarm_averages_every_country_and_type(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        alarm = recording.named("otp-sms-success-rate-alarm").inputs
        assert alarm["comparisonOperator"] == "LessThanThreshold"
        assert 0 < alarm["threshold"] < 1
        [query] = alarm["metricQueries"]
        assert query["expression"] == 'SELECT AVG(SMSSuccessRate) FROM "AWS/SNS"'
        assert query["period"] == 300

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_the_account_wide_spend_alarm_exists_only_where_the_stack_sets_the_limit(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        spend = recording.named("otp-sms-spend-alarm").inputs
        assert spend["metricName"] == "SMSMonthToDateSpentUSD"
        assert spend["threshold"] == 400  # 80 % of Pulumi.prod.yaml's 500 USD

    return run_stack("prod").settled().apply(check)


@pulumi_test
def test_a_stack_sharing_the_account_has_no_spend_alarm(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        names = {a.name for a in recording.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
        assert "otp-sms-spend-alarm" not in names

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_email_sends_are_also_allowed_on_the_sender_s_default_configuration_set(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        statement = _statement(
            recording, "otp-request-token-policy", "SendEmailFromConfiguredSender"
        )
        assert f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/bounces" in statement["Resource"]
        assert statement["Condition"] == {
            "StringEquals": {"ses:FromAddress": "no-reply@example.com"}
        }

    return run_stack("prod", emailConfigurationSet="bounces").settled().apply(check)


@pulumi_test
def test_request_token_changes_only_after_verify_token_may_use_the_new_key(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    """At a MAC-key rotation no code is made under a key verify cannot use yet."""

    def check(recording: Recording) -> None:
        request = recording.named("otp-request-token-fn")
        assert recording.named("otp-verify-token-policy").urn in request.dependencies
        assert recording.named("otp-verify-token-fn").urn in request.dependencies

    return run_stack("dev", macKeyGeneration=2).settled().apply(check)


@pulumi_test
def test_the_roles_decrypt_with_the_service_key_only_through_dynamodb(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        for route in ("request-token", "verify-token", "cancel-token"):
            statement = _statement(
                recording, f"otp-{route}-policy", "DecryptTableKeyThroughDynamoDb"
            )
            assert statement["Action"] == ["kms:Decrypt"]
            assert statement["Condition"] == {
                "StringEquals": {"kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"}
            }

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_a_replaced_waf_association_is_deleted_before_its_successor_is_made(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        assert recording.one("aws:wafv2/webAclAssociation:WebAclAssociation").delete_before_replace

    return run_stack("prod").settled().apply(check)


@pulumi_test
def test_each_function_reserves_the_configured_concurrency(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        functions = recording.of_type("aws:lambda/function:Function")
        assert {f.inputs["reservedConcurrentExecutions"] for f in functions} == {20}

    return run_stack("prod").settled().apply(check)


@pulumi_test
def test_without_a_reservation_functions_stay_unreserved_not_disabled(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    """0 would stop a function from running at all; -1 is Lambda's "no reservation"."""

    def check(recording: Recording) -> None:
        functions = recording.of_type("aws:lambda/function:Function")
        assert {f.inputs["reservedConcurrentExecutions"] for f in functions} == {-1}

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_cloudwatch_may_make_data_keys_for_the_encrypted_alarm_topic(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        statement = _statement(recording, "otp-key", "CloudWatchAlarmsPublishToTheEncryptedTopic")
        assert statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
        assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_snap_start_publishes_versions_and_the_api_calls_their_live_alias(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        aliases = {a.inputs["functionName"]: a for a in recording.of_type("aws:lambda/alias:Alias")}
        integrations = {
            i.inputs["uri"] for i in recording.of_type("aws:apigateway/integration:Integration")
        }
        permissions = recording.of_type("aws:lambda/permission:Permission")
        assert {p.inputs["qualifier"] for p in permissions} == {"live"}
        for function in recording.of_type("aws:lambda/function:Function"):
            assert function.inputs["publish"] is True
            assert function.inputs["snapStart"] == {"applyOn": "PublishedVersions"}
            name = f"{function.name}-1a2b3c4"
            alias = aliases[name].inputs
            assert (alias["name"], alias["functionVersion"]) == ("live", "1")
            alias_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}:live"
            if function.name == "otp-events-fn":
                # Not behind the API: the stream mapping invokes the alias.
                mapping = recording.one("aws:lambda/eventSourceMapping:EventSourceMapping")
                assert mapping.inputs["functionName"] == alias_arn
                continue
            if function.name == "otp-receipts-fn":
                # Not behind the API: the receipts topic invokes the alias.
                subscription = recording.named("otp-receipts-subscription")
                assert subscription.inputs["endpoint"] == alias_arn
                continue
            assert any(alias_arn in uri for uri in integrations), integrations

    return run_stack("prod").settled().apply(check)


@pulumi_test
def test_without_snap_start_the_api_calls_the_functions_themselves(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        assert recording.of_type("aws:lambda/alias:Alias") == []
        for function in recording.of_type("aws:lambda/function:Function"):
            assert not function.inputs.get("publish")
            assert "snapStart" not in function.inputs

    return run_stack("dev").settled().apply(check)
