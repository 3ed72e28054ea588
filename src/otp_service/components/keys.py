"""The service's KMS keys: one that encrypts everything at rest, one that MACs the codes."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .iam import AwsContext, Statement, allow, policy_document

KEY_DELETION_WINDOW_DAYS = 30
"""Longest window AWS allows, so a mistaken delete can still be cancelled."""


@dataclass(frozen=True)
class ServiceKeys:
    """The encryption key (table, logs, topic, function environment) and the code-MAC key."""

    encryption_key: aws.kms.Key
    mac_key: aws.kms.Key
    """The current code-MAC key: new codes are MACed under it."""
    retired_mac_key: aws.kms.Key | None
    """The previous generation, kept so codes issued before a rotation still verify."""


def create_keys(
    name: str,
    aws_context: AwsContext,
    mac_key_generation: int,
    parent: pulumi.Resource,
    *,
    email_receipts: bool = False,
) -> ServiceKeys:
    """Create both keys with their aliases and key policies; with `email_receipts`, SES may
    publish this account's configuration-set events to a topic encrypted with the first."""
    options = pulumi.ResourceOptions(parent=parent)
    encryption_key = aws.kms.Key(
        f"{name}-key",
        description=f"OtpService {name}: encrypts the table, logs, alarm topic and environment",
        enable_key_rotation=True,
        deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
        policy=policy_document(_encryption_key_policy(aws_context, email_receipts)),
        opts=options,
    )
    aws.kms.Alias(
        f"{name}-key-alias",
        name_prefix=f"alias/{_alias_safe(name)}-key-",
        target_key_id=encryption_key.key_id,
        opts=options,
    )
    # AWS rotates only symmetric encryption keys. An HMAC key is rotated by raising the
    # generation: a new key is created, and the previous one is kept for codes in flight.
    mac_key = _mac_key(name, mac_key_generation, aws_context, options)
    retired = (
        _mac_key(name, mac_key_generation - 1, aws_context, options)
        if mac_key_generation > 1
        else None
    )
    aws.kms.Alias(
        f"{name}-mac-key-alias",
        name_prefix=f"alias/{_alias_safe(name)}-mac-",
        target_key_id=mac_key.key_id,
        opts=options,
    )
    return ServiceKeys(encryption_key=encryption_key, mac_key=mac_key, retired_mac_key=retired)


def _mac_key(
    name: str, generation: int, aws_context: AwsContext, options: pulumi.ResourceOptions
) -> aws.kms.Key:
    """The HMAC key of one generation; generation 1 keeps the name it always had."""
    suffix = "" if generation == 1 else f"-{generation}"
    return aws.kms.Key(
        f"{name}-mac-key{suffix}",
        description=(
            f"OtpService {name}: derives the subkey that MACs codes and destinations "
            f"(generation {generation})"
        ),
        key_usage="GENERATE_VERIFY_MAC",
        customer_master_key_spec="HMAC_256",
        deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
        policy=policy_document([_account_administers(aws_context)]),
        opts=options,
    )


def _account_administers(aws_context: AwsContext) -> Statement:
    """The default key-policy statement: the account's IAM policies decide who uses the key.

    Without it the key could become unmanageable; it grants nothing by itself, and every role
    this component creates is given only the exact KMS actions it calls.
    """
    return {
        "Sid": "AccountIamPoliciesDecide",
        "Effect": "Allow",
        "Principal": {"AWS": aws_context.arn("iam", "root", region=False)},
        "Action": "kms:*",
        "Resource": "*",
    }


def _encryption_key_policy(aws_context: AwsContext, email_receipts: bool) -> list[Statement]:
    """Account administration plus the AWS services that encrypt with the key themselves."""
    logs_for_this_account = {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": aws_context.arn("logs", "log-group:*"),
        }
    }
    logs = allow(
        "CloudWatchLogsEncryptsThisAccountsLogGroups",
        [
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:Encrypt",
            "kms:GenerateDataKey",
            "kms:GenerateDataKeyWithoutPlaintext",
            "kms:ReEncryptFrom",
            "kms:ReEncryptTo",
        ],
        ["*"],
        logs_for_this_account,
    )
    logs["Principal"] = {"Service": aws_context.service_principal("logs", regional=True)}
    alarms = allow(
        "CloudWatchAlarmsPublishToTheEncryptedTopic",
        ["kms:Decrypt", "kms:GenerateDataKey*"],
        ["*"],
        {"StringEquals": {"aws:SourceAccount": aws_context.account_id}},
    )
    alarms["Principal"] = {"Service": aws_context.service_principal("cloudwatch")}
    statements = [_account_administers(aws_context), logs, alarms]
    if email_receipts:
        # SES publishes to an encrypted topic only with a data key of the topic's key
        # (the receipts topic's policy names the exact configuration set).
        ses = allow(
            "SesPublishesThisAccountsConfigurationSetEvents",
            ["kms:Decrypt", "kms:GenerateDataKey*"],
            ["*"],
            {
                "StringEquals": {"aws:SourceAccount": aws_context.account_id},
                "ArnLike": {"aws:SourceArn": aws_context.arn("ses", "configuration-set/*")},
            },
        )
        ses["Principal"] = {"Service": aws_context.service_principal("ses")}
        statements.append(ses)
    return statements


def _alias_safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9/_-]", "-", name)
