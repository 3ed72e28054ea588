"""IAM policy documents: small builders so each statement reads as what it grants."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

Statement = dict[str, Any]
"""One policy statement; its values may hold `pulumi.Input`s."""


@dataclass(frozen=True)
class AwsContext:
    """Where the component's resources land, read from the consumer's provider."""

    account_id: pulumi.Output[str]
    region: pulumi.Output[str]
    partition: pulumi.Output[str]
    dns_suffix: pulumi.Output[str]

    @staticmethod
    def lookup(parent: pulumi.Resource) -> AwsContext:
        """Ask the parent's AWS provider for its account, region and partition."""
        options = pulumi.InvokeOutputOptions(parent=parent)
        identity = aws.get_caller_identity_output(opts=options)
        region = aws.get_region_output(opts=options)
        partition = aws.get_partition_output(opts=options)
        return AwsContext(
            account_id=identity.account_id,
            region=region.region,
            partition=partition.partition,
            dns_suffix=partition.dns_suffix,
        )

    def arn(self, service: str, resource: str, *, region: bool = True) -> pulumi.Output[str]:
        """`arn:<partition>:<service>:<region>:<account>:<resource>` for this account."""
        return pulumi.Output.concat(
            "arn:",
            self.partition,
            ":",
            service,
            ":",
            self.region if region else "",
            ":",
            self.account_id,
            ":",
            resource,
        )

    def service_endpoint(self, service: str) -> pulumi.Output[str]:
        """`dynamodb.us-east-1.amazonaws.com`: the value `kms:ViaService` compares with."""
        return pulumi.Output.concat(service, ".", self.region, ".", self.dns_suffix)

    def service_principal(self, service: str, *, regional: bool = False) -> pulumi.Output[str]:
        """`logs.us-east-1.amazonaws.com` (regional) or `lambda.amazonaws.com`."""
        if regional:
            return pulumi.Output.concat(service, ".", self.region, ".", self.dns_suffix)
        return pulumi.Output.concat(service, ".", self.dns_suffix)


def allow(
    sid: str,
    actions: list[str],
    resources: list[pulumi.Input[str]],
    condition: dict[str, Any] | None = None,
) -> Statement:
    """An Allow statement for exactly these actions on exactly these resources."""
    statement: Statement = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": resources,
    }
    if condition:
        statement["Condition"] = condition
    return statement


def deny(sid: str, actions: list[str], resources: list[pulumi.Input[str]]) -> Statement:
    """A Deny statement; it narrows what an Allow elsewhere grants."""
    return {"Sid": sid, "Effect": "Deny", "Action": sorted(actions), "Resource": resources}


def policy_document(statements: list[Statement]) -> pulumi.Output[str]:
    """The statements as a policy JSON string, once every value in them is known."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements})


def assume_role_policy(principal: pulumi.Input[str]) -> pulumi.Output[str]:
    """A trust policy letting one AWS service assume the role."""
    statement = {"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [statement]})


def parse_policy(document: str) -> list[Statement]:
    """The statements of a policy JSON string (for tests and the local stack)."""
    statements = json.loads(document)["Statement"]
    return statements if isinstance(statements, list) else [statements]
