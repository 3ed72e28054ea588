"""Delivery receipts under mocks: the SES configuration set, its topic, the log subscriptions, the
receipts function's role, retries and dead letters.

Each assertion encodes what the real services require, not only what the mocks accept:
- SES v2 `CreateConfigurationSetEventDestination` leaves a destination disabled unless
  `Enabled` is true, and publishes to an SNS topic only if the topic's policy lets
  `ses.amazonaws.com` publish (conditioned on the account and configuration set); to a topic
  encrypted with a customer managed key only if the key policy lets SES use
  `kms:GenerateDataKey*` and `kms:Decrypt`. A send naming a configuration set that does not
  exist is refused (`ConfigurationSetDoesNotExist`), and IAM authorizes the send on the set.
- CloudWatch Logs test-invokes the destination when a subscription filter is created, so the
  Lambda permission for the regional `logs.<region>.amazonaws.com` principal must exist first;
  a log group takes at most two subscription filters.
- SNS invokes a Lambda subscriber only with a permission for `sns.amazonaws.com` on that topic.
- Lambda's asynchronous retries are 0-2 and the event age 60-21,600 s; an on-failure SQS
  destination is written with the function's role.
"""

from __future__ import annotations

from typing import Any

import pulumi

from otp_service.components.receipts import SENT_LINE_FILTER, SMS_STATUS_FILTER
from otp_service.components.sms import sms_delivery_log_group_names
from otp_service.handlers.settings import ENV_RECEIPTS_CONFIGURATION_SET
from tests.infra.test_dev_stack import allowed_actions, role_statements, service_key_arn
from tests.support.pulumi_mocks import Recording, RunProgram, pulumi_test

ACCOUNT = "123456789012"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/otp-table-1a2b3c4"
RECEIPTS_DLQ_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:otp-receipts-dlq-1a2b3c4"
RECEIPTS_TOPIC_ARN = f"arn:aws:sns:us-east-1:{ACCOUNT}:otp-receipts-topic-1a2b3c4"
SET_NAME = "otp-service-prod-otp-receipts"
SET_ARN = f"arn:aws:ses:us-east-1:{ACCOUNT}:configuration-set/{SET_NAME}"
RECEIPTS_FN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:otp-receipts-fn-1a2b3c4"


def statement(policy: str, sid: str) -> dict[str, Any]:
    from otp_service.components.iam import parse_policy

    [found] = [s for s in parse_policy(policy) if s.get("Sid") == sid]
    return found


@pulumi_test
def test_email_events_go_from_an_enabled_configuration_set_to_the_encrypted_receipts_topic(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        configuration_set = recording.one("aws:sesv2/configurationSet:ConfigurationSet").inputs
        assert configuration_set["configurationSetName"] == SET_NAME
        destination = recording.one(
            "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination"
        )
        event_destination = destination.inputs["eventDestination"]
        assert destination.inputs["configurationSetName"] == SET_NAME
        assert event_destination["enabled"] is True
        assert set(event_destination["matchingEventTypes"]) == {
            "DELIVERY",
            "BOUNCE",
            "COMPLAINT",
            "REJECT",
        }
        assert event_destination["snsDestination"] == {"topicArn": RECEIPTS_TOPIC_ARN}
        topic = recording.named("otp-receipts-topic").inputs
        assert topic["kmsMasterKeyId"] == service_key_arn(recording)
        # SES checks it may publish when the destination is made: the policy comes first.
        policy = recording.named("otp-receipts-topic-policy")
        assert policy.urn in destination.dependencies
        publish = statement(policy.inputs["policy"], "SesPublishesThisConfigurationSetsEvents")
        assert publish["Principal"] == {"Service": "ses.amazonaws.com"}
        assert publish["Action"] == ["sns:Publish"]
        assert publish["Resource"] == [RECEIPTS_TOPIC_ARN]
        assert publish["Condition"] == {
            "StringEquals": {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": SET_ARN}
        }
        key = recording.named("otp-key").inputs["policy"]
        ses = statement(key, "SesPublishesThisAccountsConfigurationSetEvents")
        assert ses["Principal"] == {"Service": "ses.amazonaws.com"}
        assert set(ses["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}
        assert ses["Condition"] == {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:ses:us-east-1:{ACCOUNT}:configuration-set/*"},
        }
        request = recording.named("otp-request-token-fn").inputs["environment"]["variables"]
        assert request[ENV_RECEIPTS_CONFIGURATION_SET] == SET_NAME

    return run_stack("prod").settled().apply(check)


@pulumi_test
def test_the_receipts_topic_invokes_the_function_it_may_invoke(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        subscription = recording.named("otp-receipts-subscription")
        assert subscription.inputs["protocol"] == "lambda"
        assert subscription.inputs["topic"] == RECEIPTS_TOPIC_ARN
        assert subscription.inputs["endpoint"] == RECEIPTS_FN
        permission = recording.named("otp-receipts-from-topic")
        assert permission.urn in subscription.dependencies
        assert permission.inputs["principal"] == "sns.amazonaws.com"
        assert permission.inputs["sourceArn"] == RECEIPTS_TOPIC_ARN
        assert permission.inputs["function"] == "otp-receipts-fn-1a2b3c4"

    return run_stack("prod", snapStart=False).settled().apply(check)


@pulumi_test
def test_without_an_email_sender_there_is_no_configuration_set_and_no_ses_grant(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        assert recording.of_type("aws:sesv2/configurationSet:ConfigurationSet") == []
        names = {topic.name for topic in recording.of_type("aws:sns/topic:Topic")}
        assert "otp-receipts-topic" not in names
        assert "ses.amazonaws.com" not in recording.named("otp-key").inputs["policy"]
        for function in recording.of_type("aws:lambda/function:Function"):
            assert ENV_RECEIPTS_CONFIGURATION_SET not in function.inputs["environment"]["variables"]

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_the_receipts_role_writes_only_delivery_on_verification_and_message_items(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        statements = role_statements(recording)["otp-receipts-policy"]
        assert all(s["Effect"] == "Allow" for s in statements)
        by_sid = {s["Sid"]: s for s in statements}
        record = by_sid["RecordReceiptsOnVerificationsAndMessages"]
        assert record["Action"] == ["dynamodb:UpdateItem"]
        assert record["Resource"] == [TABLE_ARN]
        assert record["Condition"] == {
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["verification#*", "message#*"]}
        }
        assert by_sid["DeadLetterFailedInvocations"]["Resource"] == [RECEIPTS_DLQ_ARN]
        assert by_sid["EncryptForDeadLetterQueue"]["Condition"] == {
            "StringEquals": {"kms:ViaService": "sqs.us-east-1.amazonaws.com"}
        }
        assert allowed_actions(statements) == {
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "xray:PutTelemetryRecords",
            "xray:PutTraceSegments",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "dynamodb:UpdateItem",
            "sqs:SendMessage",
        }
        function = recording.named("otp-receipts-fn").inputs
        assert function["handler"] == "handlers.receipts.handler"

    return run_stack("prod").settled().apply(check)


@pulumi_test
def test_failed_receipts_are_retried_then_dead_lettered_with_an_alarm(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        invoke = recording.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
        assert invoke.inputs["functionName"] == "otp-receipts-fn-1a2b3c4"
        assert 0 <= invoke.inputs["maximumRetryAttempts"] <= 2
        assert 60 <= invoke.inputs["maximumEventAgeInSeconds"] <= 21_600
        assert invoke.inputs["destinationConfig"] == {
            "onFailure": {"destination": RECEIPTS_DLQ_ARN}
        }
        queue = recording.named("otp-receipts-dlq").inputs
        assert queue["kmsMasterKeyId"] == service_key_arn(recording)
        alarm = recording.named("otp-receipts-dead-letters-alarm").inputs
        assert alarm["dimensions"] == {"QueueName": "otp-receipts-dlq-1a2b3c4"}
        assert (alarm["metricName"], alarm["threshold"]) == (
            "ApproximateNumberOfMessagesVisible",
            1,
        )
        errors = recording.named("otp-receipts-errors-alarm").inputs
        assert errors["dimensions"] == {"FunctionName": "otp-receipts-fn-1a2b3c4"}

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_sms_receipts_subscribe_to_both_delivery_status_groups_and_the_sent_lines(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        filters = recording.of_type("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter")
        delivered, failed = sms_delivery_log_group_names("us-east-1", ACCOUNT)
        request_logs = recording.named("otp-request-token-logs")
        assert {(f.inputs["logGroup"], f.inputs["filterPattern"]) for f in filters} == {
            (delivered, SMS_STATUS_FILTER),
            (failed, SMS_STATUS_FILTER),
            (f"{request_logs.name}-1a2b3c4", SENT_LINE_FILTER),
        }
        permissions = {
            p.name: p.inputs for p in recording.of_type("aws:lambda/permission:Permission")
        }
        preferences = recording.one("aws:sns/smsPreferences:SmsPreferences")
        for subscription in filters:
            assert subscription.inputs["destinationArn"] == f"{RECEIPTS_FN}:live"
            role = subscription.name.removeprefix("otp-receipts-").removesuffix("-filter")
            permission = permissions[f"otp-receipts-from-{role}"]
            assert permission["principal"] == "logs.us-east-1.amazonaws.com"
            assert permission["sourceAccount"] == ACCOUNT
            group = subscription.inputs["logGroup"]
            assert (
                permission["sourceArn"] == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}:*"
            )
            # Logs test-invokes the function, and SNS must be logging, before a filter exists.
            assert recording.named(f"otp-receipts-from-{role}").urn in subscription.dependencies
            assert preferences.urn in subscription.dependencies
        # Every delivery is logged, so every SMS can get its receipt.
        assert preferences.inputs["deliveryStatusSuccessSamplingRate"] == "100"

    return run_stack("prod", smsDeliveryReceipts=True).settled().apply(check)


@pulumi_test
def test_sms_receipts_are_off_unless_asked_for(run_stack: RunProgram) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        assert recording.of_type("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter") == []
        preferences = recording.one("aws:sns/smsPreferences:SmsPreferences").inputs
        assert preferences["deliveryStatusSuccessSamplingRate"] == "10"

    return run_stack("prod").settled().apply(check)
