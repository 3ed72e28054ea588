"""The component as deployed (recorded under Pulumi mocks): IAM linted, storage encrypted."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import pulumi
import pytest

from tests.support.pulumi_mocks import Recording, RunProgram, pulumi_test

with warnings.catch_warnings():
    # parliament 1.6.4 loads its data through pkg_resources and leaves the files open.
    warnings.simplefilter("ignore")
    import parliament  # type: ignore[import-untyped]

    # What `parliament --include-community-auditors` loads: their issues' severities.
    parliament.override_config(
        str(Path(parliament.__file__).parent / "community_auditors" / "config_override.yaml")
    )

ALLOWED_SEVERITIES = {"LOW", "INFO"}
IDENTITY_POLICIES = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/policy:Policy": "policy",
}
RESOURCE_POLICIES = {
    "aws:kms/key:Key": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
}
ACCEPTED_KEY_POLICY_FINDINGS = {
    # AWS's default key policy: the account root may administer the key, so IAM decides.
    ("otp-key", "PERMISSIONS_MANAGEMENT_ACTIONS"),
    ("otp-mac-key", "PERMISSIONS_MANAGEMENT_ACTIONS"),
    # AWS's documented CloudWatch Logs key policy: ArnLike on kms:EncryptionContext:aws:logs:arn,
    # which parliament types as String, over actions that include kms:DescribeKey.
    ("otp-key", "MISMATCHED_TYPE"),
    ("otp-key", "UNKNOWN_CONDITION_FOR_ACTION"),
}
"""Medium findings in the key policies, each an AWS-documented pattern (see SECURITY.md)."""
STREAM_READ_ACTIONS = {
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
}
"""parliament matches resources split at colons, so a real stream ARN (its label is a time,
`.../stream/2026-11-25T00:00:00.000`) never fits its `table/*/stream/*` format for these."""
STREAM_ARN = re.compile(r"arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/[^/]+/stream/[^/]+")
DATA_AT_REST = {
    "aws:dynamodb/table:Table": lambda i: i["serverSideEncryption"]["kmsKeyArn"],
    "aws:cloudwatch/logGroup:LogGroup": lambda i: i["kmsKeyId"],
    "aws:sns/topic:Topic": lambda i: i["kmsMasterKeyId"],
    "aws:lambda/function:Function": lambda i: i["kmsKeyArn"],
    "aws:sqs/queue:Queue": lambda i: i["kmsMasterKeyId"],
}
"""Every type that keeps data the component creates, and where it names its KMS key."""
UNENCRYPTABLE_STORES = {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "aws:efs/fileSystem"}


def _policies(recording: Recording, kinds: dict[str, str]) -> list[tuple[str, str]]:
    found = []
    for type_token, name in kinds.items():
        for resource in recording.of_type(type_token):
            document = resource.inputs.get(name)
            if document:
                found.append((resource.name, str(document)))
    return found


def _findings(document: str) -> list[dict[str, Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        policy = parliament.analyze_policy_string(document, include_community_auditors=True)
        enhanced = [parliament.enhance_finding(f) for f in policy.findings]
    return [
        {"severity": f.severity, "issue": f.issue, "detail": str(f.detail)}
        for f in enhanced
        if f.severity not in ALLOWED_SEVERITIES and not _is_stream_label_mismatch(f, document)
    ]


def _is_stream_label_mismatch(finding: Any, document: str) -> bool:
    """parliament's colon split, and only that: the stream actions name real stream ARNs."""
    mismatched = finding.detail if isinstance(finding.detail, list) else []
    if finding.issue != "RESOURCE_MISMATCH" or not mismatched:
        return False
    if any(entry.get("action") not in STREAM_READ_ACTIONS for entry in mismatched):
        return False
    statements = json.loads(document)["Statement"]
    resources = [
        resource
        for statement in statements
        if STREAM_READ_ACTIONS & set(statement["Action"])
        for resource in statement["Resource"]
    ]
    return all(STREAM_ARN.fullmatch(resource) for resource in resources)


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pulumi_test
def test_every_identity_policy_passes_parliament_with_nothing_above_low(
    run_stack: RunProgram, stack: str
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        policies = _policies(recording, IDENTITY_POLICIES)
        assert len(policies) >= 4, [name for name, _ in policies]
        flagged = {name: f for name, document in policies if (f := _findings(document))}
        assert not flagged, json.dumps(flagged, indent=1)

    return run_stack(stack).settled().apply(check)


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pulumi_test
def test_resource_policies_have_no_finding_above_low_but_the_accepted_ones(
    run_stack: RunProgram, stack: str
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        policies = _policies(recording, RESOURCE_POLICIES)
        assert {name for name, _ in policies} >= {"otp-key", "otp-mac-key"}
        found = {
            (name, finding["issue"])
            for name, document in policies
            for finding in _findings(document)
        }
        assert found == ACCEPTED_KEY_POLICY_FINDINGS

    return run_stack(stack).settled().apply(check)


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pulumi_test
def test_every_role_is_assumable_only_by_one_aws_service(
    run_stack: RunProgram, stack: str
) -> pulumi.Output[None]:
    """Trust policies (parliament does not lint them): one service principal, sts:AssumeRole."""

    def check(recording: Recording) -> None:
        roles = recording.of_type("aws:iam/role:Role")
        assert roles
        for role in roles:
            document = role.inputs["assumeRolePolicy"]
            statements = json.loads(document)["Statement"]
            for statement in statements:
                assert statement["Effect"] == "Allow"
                assert statement["Action"] in ("sts:AssumeRole", ["sts:AssumeRole"])
                assert set(statement["Principal"]) == {"Service"}, role.name
                assert str(statement["Principal"]["Service"]).endswith(".amazonaws.com")

    return run_stack(stack).settled().apply(check)


def test_parliament_flags_a_wildcard_grant() -> None:
    """The linter is wired up for real: `iam:*` on `*` is a finding above low."""
    bad = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}],
    }
    assert _findings(json.dumps(bad))


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pulumi_test
def test_every_store_of_data_is_encrypted_with_the_service_key(
    run_stack: RunProgram, stack: str
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        key = recording.named("otp-key")
        key_arn = f"arn:aws:kms:us-east-1:123456789012:key/{key.name}-id"
        stores = [r for r in recording.resources if r.type in DATA_AT_REST]
        assert {r.type for r in stores} >= {
            "aws:dynamodb/table:Table",
            "aws:cloudwatch/logGroup:LogGroup",
            "aws:lambda/function:Function",
        }
        for store in stores:
            assert DATA_AT_REST[store.type](store.inputs) == key_arn, store.name
        assert not [r.name for r in recording.resources if r.type in UNENCRYPTABLE_STORES]
        for function in recording.of_type("aws:lambda/function:Function"):
            variables = function.inputs["environment"]["variables"]
            assert "POWERTOOLS_LOGGER_LOG_EVENT" not in variables, "events carry destinations"
            assert variables.get("POWERTOOLS_LOG_LEVEL", "INFO") != "DEBUG"

    return run_stack(stack).settled().apply(check)
