"""The DynamoDB table holding pending codes, counters and idempotency records."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from ..handlers.table import PARTITION_KEY, TTL_ATTRIBUTE
from .events_plumbing import STREAM_VIEW_TYPE


def create_table(
    name: str,
    encryption_key: aws.kms.Key,
    deletion_protection: bool,
    parent: pulumi.Resource,
) -> aws.dynamodb.Table:
    """An on-demand table keyed like the handlers expect, encrypted, with TTL, PITR and a stream."""
    return aws.dynamodb.Table(
        f"{name}-table",
        billing_mode="PAY_PER_REQUEST",
        hash_key=PARTITION_KEY,
        attributes=[{"name": PARTITION_KEY, "type": "S"}],
        # DynamoDB deletes expired items lazily (possibly days late); the handlers check expiry.
        ttl={"attribute_name": TTL_ATTRIBUTE, "enabled": True},
        point_in_time_recovery={"enabled": True},
        server_side_encryption={"enabled": True, "kms_key_arn": encryption_key.arn},
        deletion_protection_enabled=deletion_protection,
        # Lifecycle events are decoded from each write's before and after images.
        stream_enabled=True,
        stream_view_type=STREAM_VIEW_TYPE,
        opts=pulumi.ResourceOptions(parent=parent),
    )
