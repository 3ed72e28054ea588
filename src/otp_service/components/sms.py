"""Account-wide SMS preferences (opt-in): spend limit, Transactional type, delivery-status logs."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from .iam import AwsContext, allow, assume_role_policy, policy_document
from .keys import ServiceKeys
from .options import ServiceOptions

SUCCESS_SAMPLING_PERCENT = "10"
"""Share of successful SMS deliveries SNS logs; every failure is logged."""


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
    # SNS writes delivery status to these fixed names; creating them first sets retention and key.
    log_group_names = [
        pulumi.Output.concat(
            "sns/", aws_context.region, "/", aws_context.account_id, "/DirectPublishToPhoneNumber"
        ),
        pulumi.Output.concat(
            "sns/",
            aws_context.region,
            "/",
            aws_context.account_id,
            "/DirectPublishToPhoneNumber/Failure",
        ),
    ]
    log_groups = [
        aws.cloudwatch.LogGroup(
            f"{name}-sms-{outcome}-logs",
            name=log_group_name,
            retention_in_days=infrastructure.log_retention_days,
            kms_key_id=keys.encryption_key.arn,
            opts=child,
        )
        for outcome, log_group_name in zip(("delivered", "failed"), log_group_names, strict=True)
    ]
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
                        for log_group in log_groups
                        for resource in (log_group.arn, pulumi.Output.concat(log_group.arn, ":*"))
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
        delivery_status_success_sampling_rate=SUCCESS_SAMPLING_PERCENT,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[role_policy]),
    )
