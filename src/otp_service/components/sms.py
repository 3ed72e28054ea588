"""Account-wide SMS preferences (opt-in): spend limit, Transactional type, delivery-status logs."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_aws as aws

from .iam import AwsContext, allow, assume_role_policy, policy_document
from .keys import ServiceKeys
from .options import ServiceOptions

SUCCESS_SAMPLING_PERCENT = "10"
"""Share of successful SMS deliveries SNS logs; every failure is logged."""

RECEIPTS_SUCCESS_SAMPLING_PERCENT = "100"
"""With `smsDeliveryReceipts`: every delivery is logged, so every SMS can get its receipt."""


def _pick(index: int) -> Callable[[list[str]], str]:
    return lambda names: names[index]


def sms_delivery_log_group_names(region: str, account_id: str) -> list[str]:
    """The log groups SNS writes SMS delivery status to: delivered, then failed."""
    prefix = f"sns/{region}/{account_id}/DirectPublishToPhoneNumber"
    return [prefix, f"{prefix}/Failure"]


def create_sms_preferences(
    name: str,
    options: ServiceOptions,
    aws_context: AwsContext,
    keys: ServiceKeys,
    parent: pulumi.Resource,
) -> aws.sns.SmsPreferences:
    """Set the account's SMS preferences and the role and log groups SNS reports delivery to."""
    child = pulumi.ResourceOptions(parent=parent)
    infrastructure = options.infrastructure
    # SNS writes delivery status to these fixed, account-wide names. Creating them first sets
    # their retention and key; where delivery logging was ever on they exist already, creating
    # them fails, and `createSmsDeliveryLogGroups: false` leaves them as they are.
    names = pulumi.Output.all(aws_context.region, aws_context.account_id).apply(
        lambda where: sms_delivery_log_group_names(where[0], where[1])
    )
    log_group_arns: list[pulumi.Output[str]] = []
    log_groups: list[aws.cloudwatch.LogGroup] = []
    for index, outcome in enumerate(("delivered", "failed")):
        log_group_name: pulumi.Output[str] = names.apply(_pick(index))
        if infrastructure.create_sms_delivery_log_groups:
            log_groups.append(
                aws.cloudwatch.LogGroup(
                    f"{name}-sms-{outcome}-logs",
                    name=log_group_name,
                    retention_in_days=infrastructure.log_retention_days,
                    kms_key_id=keys.encryption_key.arn,
                    opts=child,
                )
            )
            log_group_arns.append(log_groups[-1].arn)
        else:
            log_group_arns.append(
                log_group_name.apply(lambda text: aws_context.arn("logs", f"log-group:{text}"))
            )
    role = aws.iam.Role(
        f"{name}-sms-delivery-status-role",
        description="SNS writes SMS delivery status to CloudWatch Logs",
        assume_role_policy=assume_role_policy(aws_context.service_principal("sns")),
        opts=child,
    )
    role_policy = aws.iam.RolePolicy(
        f"{name}-sms-delivery-status-policy",
        role=role.id,
        policy=policy_document(
            [
                allow(
                    "WriteSmsDeliveryStatus",
                    [
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:PutMetricFilter",
                        "logs:PutRetentionPolicy",
                    ],
                    [
                        resource
                        for arn in log_group_arns
                        for resource in (arn, pulumi.Output.concat(arn, ":*"))
                    ],
                )
            ]
        ),
        opts=child,
    )
    return aws.sns.SmsPreferences(
        f"{name}-sms-preferences",
        monthly_spend_limit=infrastructure.sms_monthly_spend_limit_usd,
        default_sms_type="Transactional",
        default_sender_id=infrastructure.sms_sender_id,
        delivery_status_iam_role_arn=role.arn,
        delivery_status_success_sampling_rate=(
            RECEIPTS_SUCCESS_SAMPLING_PERCENT
            if infrastructure.sms_delivery_receipts
            else SUCCESS_SAMPLING_PERCENT
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[role_policy, *log_groups]),
    )
