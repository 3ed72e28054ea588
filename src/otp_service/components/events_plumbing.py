"""Lifecycle events: the events topic, the dead-letter queue, and the stream that feeds them.

The table's stream (new and old images) drives the events function through an event source
mapping; a batch that keeps failing is split in two until the bad record is alone, and after
`STREAM_MAX_RETRIES` retries that record's batch description goes to the dead-letter queue
while the rest of the shard moves on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from .keys import ServiceKeys

if TYPE_CHECKING:
    from .functions import RouteFunction

STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"
"""The events function compares the item before and after each write."""

STREAM_BATCH_SIZE = 100
STREAM_MAX_RETRIES = 5
"""Retries of a failing batch (each bisected) before its record goes to the dead-letter queue."""

STREAM_MAX_RECORD_AGE_SECONDS = 86_400
"""DynamoDB Streams keeps records for 24 hours; the mapping gives up on none younger."""

DLQ_RETENTION_SECONDS = 14 * 86_400
"""SQS's longest retention: two weeks to look at a dead-lettered batch and replay it."""

ITERATOR_AGE_ALARM_MS = 300_000
"""Events more than five minutes behind the writes that caused them."""


@dataclass(frozen=True)
class EventsPlumbing:
    """The topic lifecycle events are published to and the queue failed batches end in."""

    topic: aws.sns.Topic
    dead_letter_queue: aws.sqs.Queue


def create_events_plumbing(name: str, keys: ServiceKeys, parent: pulumi.Resource) -> EventsPlumbing:
    """The events topic and the dead-letter queue, both encrypted with the service key."""
    child = pulumi.ResourceOptions(parent=parent)
    topic = aws.sns.Topic(f"{name}-events", kms_master_key_id=keys.encryption_key.arn, opts=child)
    queue = aws.sqs.Queue(
        f"{name}-events-dlq",
        kms_master_key_id=keys.encryption_key.arn,
        message_retention_seconds=DLQ_RETENTION_SECONDS,
        opts=child,
    )
    return EventsPlumbing(topic=topic, dead_letter_queue=queue)


def connect_stream(
    name: str,
    table: aws.dynamodb.Table,
    events_function: RouteFunction,
    plumbing: EventsPlumbing,
    alarm_topic: aws.sns.Topic,
    parent: pulumi.Resource,
) -> aws.lambda_.EventSourceMapping:
    """Feed the table's stream to the events function, and alarm on dead letters and lag."""
    child = pulumi.ResourceOptions(parent=parent)
    mapping = aws.lambda_.EventSourceMapping(
        f"{name}-events-stream",
        event_source_arn=table.stream_arn,
        # With SnapStart, invoke the published `live` alias, as the API does.
        function_name=events_function.target_arn,
        starting_position="TRIM_HORIZON",
        batch_size=STREAM_BATCH_SIZE,
        bisect_batch_on_function_error=True,
        maximum_retry_attempts=STREAM_MAX_RETRIES,
        maximum_record_age_in_seconds=STREAM_MAX_RECORD_AGE_SECONDS,
        function_response_types=["ReportBatchItemFailures"],
        destination_config={"on_failure": {"destination_arn": plumbing.dead_letter_queue.arn}},
        opts=child,
    )
    alarms: list[tuple[str, str, dict[str, Any]]] = [
        (
            "dead-letters",
            "stream records the events function gave up on",
            {
                "namespace": "AWS/SQS",
                "metric_name": "ApproximateNumberOfMessagesVisible",
                "dimensions": {"QueueName": plumbing.dead_letter_queue.name},
                "threshold": 1,
            },
        ),
        (
            "iterator-age",
            "lifecycle events lag the writes behind them",
            {
                "namespace": "AWS/Lambda",
                "metric_name": "IteratorAge",
                "dimensions": {"FunctionName": events_function.function.name},
                "threshold": ITERATOR_AGE_ALARM_MS,
            },
        ),
    ]
    for mode, description, metric in alarms:
        maximum_alarm(
            f"{name}-events-{mode}-alarm",
            f"OtpService {name}: {description}",
            alarm_topic,
            parent,
            **metric,
        )
    return mapping


def maximum_alarm(
    resource_name: str,
    description: str,
    alarm_topic: aws.sns.Topic,
    parent: pulumi.Resource,
    **metric: Any,
) -> aws.cloudwatch.MetricAlarm:
    """An alarm when a metric's five-minute maximum reaches its threshold (a dead letter, lag)."""
    return aws.cloudwatch.MetricAlarm(
        resource_name,
        alarm_description=description,
        statistic="Maximum",
        period=300,
        evaluation_periods=1,
        comparison_operator="GreaterThanOrEqualToThreshold",
        treat_missing_data="notBreaching",
        alarm_actions=[alarm_topic.arn],
        ok_actions=[alarm_topic.arn],
        opts=pulumi.ResourceOptions(parent=parent),
        **metric,
    )
