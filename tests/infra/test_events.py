"""Lifecycle events under mocks: the stream, the mapping, the topic and the events role.

Each assertion encodes what the real services require, not only what the mocks accept:
- DynamoDB Streams: `StreamViewType` NEW_AND_OLD_IMAGES carries both images of every write.
- Lambda event source mappings for DynamoDB: `DestinationConfig.OnFailure` must be a standard
  SQS queue or SNS topic; `BisectBatchOnFunctionError`, `MaximumRetryAttempts` (0-10,000),
  `MaximumRecordAgeInSeconds` (-1 or 60-604,800; the stream keeps records 24 h),
  `FunctionResponseTypes` `ReportBatchItemFailures`, `StartingPosition` TRIM_HORIZON or LATEST.
- The stream-reading role needs DescribeStream, GetRecords, GetShardIterator and ListStreams
  on the stream, and the on-failure destination is written with the function's role.
- Publishing to an SNS topic encrypted with a customer managed key needs kms:GenerateDataKey
  (and kms:Decrypt) on that key; so does sending to an encrypted SQS queue.
"""

from __future__ import annotations

import pulumi

from otp_service.components.events_plumbing import STREAM_MAX_RECORD_AGE_SECONDS
from otp_service.handlers.settings import ENV_EVENTS_TOPIC_ARN
from tests.infra.test_dev_stack import allowed_actions, role_statements, service_key_arn
from tests.support.pulumi_mocks import Recording, RunProgram, pulumi_test

TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/otp-table-1a2b3c4"
STREAM_ARN = f"{TABLE_ARN}/stream/2026-11-25T00:00:00.000"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:otp-events-1a2b3c4"
DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:otp-events-dlq-1a2b3c4"


@pulumi_test
def test_the_table_streams_both_images_of_every_write(run_stack: RunProgram) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        table = recording.one("aws:dynamodb/table:Table").inputs
        assert table["streamEnabled"] is True
        assert table["streamViewType"] == "NEW_AND_OLD_IMAGES"

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_the_stream_feeds_the_events_function_with_bisect_retries_and_a_dead_letter_queue(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        mapping = recording.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs
        assert mapping["eventSourceArn"] == STREAM_ARN
        assert mapping["functionName"].endswith(":function:otp-events-fn-1a2b3c4")
        assert mapping["startingPosition"] in ("TRIM_HORIZON", "LATEST")
        assert mapping["bisectBatchOnFunctionError"] is True
        assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
        assert 0 <= mapping["maximumRetryAttempts"] <= 10_000
        assert 60 <= mapping["maximumRecordAgeInSeconds"] <= 604_800
        assert STREAM_MAX_RECORD_AGE_SECONDS <= 86_400
        assert mapping["destinationConfig"] == {"onFailure": {"destinationArn": DLQ_ARN}}
        queue = recording.named("otp-events-dlq").inputs
        assert not queue.get("fifoQueue"), "stream on-failure destinations must be standard"

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_dead_letters_and_lag_raise_alarms(run_stack: RunProgram) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        dead_letters = recording.named("otp-events-dead-letters-alarm").inputs
        assert dead_letters["metricName"] == "ApproximateNumberOfMessagesVisible"
        assert dead_letters["dimensions"] == {"QueueName": "otp-events-dlq-1a2b3c4"}
        assert dead_letters["threshold"] == 1
        lag = recording.named("otp-events-iterator-age-alarm").inputs
        assert lag["metricName"] == "IteratorAge"
        errors = recording.named("otp-events-errors-alarm").inputs
        assert errors["dimensions"] == {"FunctionName": "otp-events-fn-1a2b3c4"}

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_the_events_role_reads_only_its_stream_and_publishes_only_to_its_topic(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        statements = role_statements(recording)["otp-events-policy"]
        assert all(s["Effect"] == "Allow" for s in statements)
        by_sid = {s["Sid"]: s for s in statements}
        assert by_sid["ReadOwnStream"]["Resource"] == [STREAM_ARN]
        assert by_sid["PublishLifecycleEvents"]["Action"] == ["sns:Publish"]
        assert by_sid["PublishLifecycleEvents"]["Resource"] == [TOPIC_ARN]
        assert by_sid["DeadLetterFailedBatches"]["Resource"] == [DLQ_ARN]
        assert by_sid["EncryptForTopicAndQueue"]["Resource"] == [service_key_arn(recording)]
        record = by_sid["RecordOutcomesOnVerificationRecords"]
        assert record["Action"] == ["dynamodb:UpdateItem"]
        assert record["Condition"] == {
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["verification#*"]}
        }
        fraud = by_sid["CountAndBlockPrefixes"]
        assert fraud["Action"] == ["dynamodb:GetItem", "dynamodb:UpdateItem"]
        assert fraud["Resource"] == [TABLE_ARN]
        assert fraud["Condition"] == {
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["fraud#*"]}
        }
        assert allowed_actions(statements) == {
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "xray:PutTelemetryRecords",
            "xray:PutTraceSegments",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "sns:Publish",
            "sqs:SendMessage",
        }

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_only_the_events_function_knows_the_topic(run_stack: RunProgram) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        for function in recording.of_type("aws:lambda/function:Function"):
            variables = function.inputs["environment"]["variables"]
            if function.name == "otp-events-fn":
                assert variables[ENV_EVENTS_TOPIC_ARN] == TOPIC_ARN
                assert function.inputs["handler"] == "handlers.events.handler"
            else:
                assert ENV_EVENTS_TOPIC_ARN not in variables
        assert "events_topic_arn" in recording.stack_outputs

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_the_status_route_reads_only_verification_records_and_user_items(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        statements = role_statements(recording)["otp-verifications-id-policy"]
        (read,) = [s for s in statements if s["Action"][0].startswith("dynamodb:")]
        assert read["Action"] == ["dynamodb:GetItem"]
        assert read["Resource"] == [TABLE_ARN]
        assert read["Condition"] == {
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["verification#*", "user#*"]}
        }
        assert "sns:Publish" not in allowed_actions(statements)

    return run_stack("dev").settled().apply(check)
