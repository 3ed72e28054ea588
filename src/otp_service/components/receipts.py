"""Delivery receipts: SES events and SMS delivery-status logs, to the receipts function.

- Email (whenever `emailSender` is set): an SES configuration set (API v2) whose event
  destination publishes DELIVERY, BOUNCE, COMPLAINT and REJECT events to the receipts topic,
  encrypted with the service key; request-token sends through that set and tags each email
  with its verification id. The topic invokes the receipts function.
- SMS (`smsDeliveryReceipts`, account-wide): CloudWatch Logs subscriptions on the account's
  two SNS delivery-status log groups and on request-token's log group (its "message sent"
  lines pair each provider message id with its verification).

Both sources invoke the function asynchronously: after `ASYNC_RETRIES` retries an event goes
to the receipts dead-letter queue, which raises an alarm.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..handlers.observability import SENT_LOG_MESSAGE
from .events_plumbing import DLQ_RETENTION_SECONDS, maximum_alarm
from .iam import AwsContext, allow, policy_document
from .keys import ServiceKeys
from .naming import physical_name
from .options import ServiceOptions
from .sms import sms_delivery_log_group_names

SES_RECEIPT_EVENTS = ["BOUNCE", "COMPLAINT", "DELIVERY", "REJECT"]
"""The SES events that settle an email (a complaint is published, and changes nothing)."""

SENT_LINE_FILTER = f'{{ $.message = "{SENT_LOG_MESSAGE}" && $.channel = "sms" }}'
"""request-token's sent lines for SMS: each pairs a provider message id with its verification."""

SMS_STATUS_FILTER = '{ $.notification.messageId = "*" }'
"""Every SMS delivery-status entry (both log groups hold only those)."""

ASYNC_RETRIES = 2
"""Lambda's retries of a failed asynchronous invocation (its maximum) before the dead letter."""

ASYNC_MAX_EVENT_AGE_SECONDS = 21_600
"""Lambda's longest: six hours of throttling or errors before an event is dead-lettered."""


@dataclass(frozen=True)
class ReceiptsPlumbing:
    """What the functions need to know about receipts before they exist."""

    dead_letter_queue: aws.sqs.Queue
    configuration_set: aws.sesv2.ConfigurationSet | None
    """The set email is sent through; None without an email sender."""


def create_receipts_plumbing(
    name: str, options: ServiceOptions, keys: ServiceKeys, parent: pulumi.Resource
) -> ReceiptsPlumbing:
    """The dead-letter queue and, with an email sender, the SES configuration set."""
    child = pulumi.ResourceOptions(parent=parent)
    queue = aws.sqs.Queue(
        f"{name}-receipts-dlq",
        kms_master_key_id=keys.encryption_key.arn,
        message_retention_seconds=DLQ_RETENTION_SECONDS,
        opts=child,
    )
    configuration_set = None
    if options.infrastructure.email_sender is not None:
        configuration_set = aws.sesv2.ConfigurationSet(
            f"{name}-receipts",
            configuration_set_name=physical_name(name, "receipts"),
            opts=child,
        )
    return ReceiptsPlumbing(dead_letter_queue=queue, configuration_set=configuration_set)


@dataclass(frozen=True)
class ReceiptSources:
    """The function receipts go to and the function whose sent lines pair SMS receipts."""

    receipts_arn: pulumi.Output[str]
    """The receipts function (or with SnapStart its `live` alias)."""
    receipts_name: pulumi.Output[str]
    qualifier: str | None
    request_token_log_group: aws.cloudwatch.LogGroup


def connect_receipts(
    name: str,
    options: ServiceOptions,
    aws_context: AwsContext,
    keys: ServiceKeys,
    plumbing: ReceiptsPlumbing,
    sources: ReceiptSources,
    alarm_topic: aws.sns.Topic,
    parent: pulumi.Resource,
    after: Sequence[pulumi.Resource],
) -> None:
    """Wire every receipt source to the function, with retries, a dead letter and its alarm."""
    child = pulumi.ResourceOptions(parent=parent)
    aws.lambda_.FunctionEventInvokeConfig(
        f"{name}-receipts-async",
        function_name=sources.receipts_name,
        qualifier=sources.qualifier,
        maximum_retry_attempts=ASYNC_RETRIES,
        maximum_event_age_in_seconds=ASYNC_MAX_EVENT_AGE_SECONDS,
        destination_config={
            "on_failure": {"destination": plumbing.dead_letter_queue.arn},
        },
        opts=child,
    )
    if plumbing.configuration_set is not None:
        _connect_email(name, aws_context, keys, plumbing.configuration_set, sources, parent)
    if options.infrastructure.sms_delivery_receipts:
        _connect_sms(name, aws_context, sources, parent, after)
    maximum_alarm(
        f"{name}-receipts-dead-letters-alarm",
        f"OtpService {name}: delivery receipts the receipts function gave up on",
        alarm_topic,
        parent,
        namespace="AWS/SQS",
        metric_name="ApproximateNumberOfMessagesVisible",
        dimensions={"QueueName": plumbing.dead_letter_queue.name},
        threshold=1,
    )


def _connect_email(
    name: str,
    aws_context: AwsContext,
    keys: ServiceKeys,
    configuration_set: aws.sesv2.ConfigurationSet,
    sources: ReceiptSources,
    parent: pulumi.Resource,
) -> None:
    """Configuration set -> encrypted topic -> function."""
    child = pulumi.ResourceOptions(parent=parent)
    topic = aws.sns.Topic(
        f"{name}-receipts-topic", kms_master_key_id=keys.encryption_key.arn, opts=child
    )
    set_arn = pulumi.Output.concat(
        aws_context.arn("ses", "configuration-set/"), configuration_set.configuration_set_name
    )
    publish = allow(
        "SesPublishesThisConfigurationSetsEvents",
        ["sns:Publish"],
        [topic.arn],
        {
            "StringEquals": {
                "aws:SourceAccount": aws_context.account_id,
                "aws:SourceArn": set_arn,
            }
        },
    )
    publish["Principal"] = {"Service": aws_context.service_principal("ses")}
    topic_policy = aws.sns.TopicPolicy(
        f"{name}-receipts-topic-policy",
        arn=topic.arn,
        policy=policy_document([publish]),
        opts=child,
    )
    permission = aws.lambda_.Permission(
        f"{name}-receipts-from-topic",
        action="lambda:InvokeFunction",
        function=sources.receipts_name,
        qualifier=sources.qualifier,
        principal=aws_context.service_principal("sns"),
        source_arn=topic.arn,
        opts=child,
    )
    aws.sns.TopicSubscription(
        f"{name}-receipts-subscription",
        topic=topic.arn,
        protocol="lambda",
        endpoint=sources.receipts_arn,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[permission]),
    )
    aws.sesv2.ConfigurationSetEventDestination(
        f"{name}-receipts-destination",
        configuration_set_name=configuration_set.configuration_set_name,
        event_destination_name="delivery-receipts",
        event_destination={
            # SES v2 creates a destination disabled unless told otherwise.
            "enabled": True,
            "matching_event_types": SES_RECEIPT_EVENTS,
            "sns_destination": {"topic_arn": topic.arn},
        },
        # SES tests that it may publish (topic policy and key) when the destination is made.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[topic_policy]),
    )


def _pick(index: int) -> Callable[[list[str]], str]:
    return lambda names: names[index]


def _connect_sms(
    name: str,
    aws_context: AwsContext,
    sources: ReceiptSources,
    parent: pulumi.Resource,
    after: Sequence[pulumi.Resource],
) -> None:
    """Subscribe the function to both delivery-status log groups and to the sent lines."""
    names = pulumi.Output.all(aws_context.region, aws_context.account_id).apply(
        lambda where: sms_delivery_log_group_names(where[0], where[1])
    )
    subscribed: list[tuple[str, pulumi.Output[str], str]] = [
        ("sms-delivered", names.apply(_pick(0)), SMS_STATUS_FILTER),
        ("sms-failed", names.apply(_pick(1)), SMS_STATUS_FILTER),
        ("sent-lines", sources.request_token_log_group.name, SENT_LINE_FILTER),
    ]
    for role, log_group_name, pattern in subscribed:
        log_group_arn = pulumi.Output.concat(
            aws_context.arn("logs", "log-group:"), log_group_name, ":*"
        )
        permission = aws.lambda_.Permission(
            f"{name}-receipts-from-{role}",
            action="lambda:InvokeFunction",
            function=sources.receipts_name,
            qualifier=sources.qualifier,
            principal=aws_context.service_principal("logs", regional=True),
            source_arn=log_group_arn,
            source_account=aws_context.account_id,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        # CloudWatch Logs test-invokes the function when the filter is made.
        aws.cloudwatch.LogSubscriptionFilter(
            f"{name}-receipts-{role}-filter",
            log_group=log_group_name,
            filter_pattern=pattern,
            destination_arn=sources.receipts_arn,
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[permission, *after]),
        )
