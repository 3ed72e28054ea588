"""The operators' managed policy for `otp-fraud`: list and lift Fraud Guard's prefix blocks."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from ..handlers.fraud_store import BLOCKS_KEY, prefix_key
from .iam import AwsContext, Statement, allow, policy_document
from .keys import ServiceKeys


def fraud_admin_statements(
    table_arn: pulumi.Input[str], key_arn: pulumi.Input[str], dynamodb_endpoint: pulumi.Input[str]
) -> list[Statement]:
    """Exactly what `otp-fraud list` and `lift` call: the block registry and prefix items.

    No `Scan`: `dynamodb:LeadingKeys` cannot confine one (it has no key, and `ForAllValues`
    over no values is true), so it would read every user's item.
    """
    return [
        allow(
            "ListAndLiftPrefixBlocks",
            ["dynamodb:GetItem", "dynamodb:UpdateItem"],
            [table_arn],
            {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [BLOCKS_KEY, prefix_key("*")]}},
        ),
        allow(
            "DecryptTableKeyThroughDynamoDb",
            ["kms:Decrypt"],
            [key_arn],
            {"StringEquals": {"kms:ViaService": dynamodb_endpoint}},
        ),
    ]


def create_fraud_admin_policy(
    name: str,
    aws_context: AwsContext,
    keys: ServiceKeys,
    table: aws.dynamodb.Table,
    parent: pulumi.Resource,
) -> aws.iam.Policy:
    """A customer-managed policy to attach to the operators who run `otp-fraud`."""
    statements = fraud_admin_statements(
        table.arn, keys.encryption_key.arn, aws_context.service_endpoint("dynamodb")
    )
    return aws.iam.Policy(
        f"{name}-fraud-admin-policy",
        description="Lets an operator list and lift OtpService Fraud Guard blocks (otp-fraud)",
        policy=policy_document(statements),
        opts=pulumi.ResourceOptions(parent=parent),
    )
