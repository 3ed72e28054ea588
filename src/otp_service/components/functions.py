"""One Lambda function per route: its code, layers, log group, role and least-privilege policy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from ..handlers.settings import (
    ENV_BRAND_NAME,
    ENV_EMAIL_SENDER,
    ENV_MAC_KEY_ID,
    ENV_POLICY,
    ENV_SMS_SENDER_ID,
    ENV_TABLE_NAME,
)
from .iam import AwsContext, Statement, allow, assume_role_policy, deny, policy_document
from .keys import ServiceKeys
from .naming import physical_name
from .options import ServiceOptions
from .packaging import (
    LAMBDA_ARCHITECTURE,
    LAMBDA_RUNTIME,
    build_code_archive,
    build_dependency_layer,
)

FUNCTION_TIMEOUT_SECONDS = 20
"""The handlers' bounded retries take at most ~13 s (request-token, the slowest path); 20 s adds
room for a cold start and stays well under API Gateway's 29 s integration timeout, so a slow
dependency ends as the handler's own 503, never as a gateway timeout."""

POWERTOOLS_SERVICE_NAME = "otp"
"""The `service` dimension of every metric and the service field of every log line."""

METRICS_NAMESPACE = "OtpService"
"""The CloudWatch namespace of the handlers' EMF metrics."""

POWERTOOLS_LAYER_ACCOUNT = "017000801446"
"""The AWS account that publishes the public Powertools for AWS Lambda layers."""

POWERTOOLS_LAYER_NAME = "AWSLambdaPowertoolsPythonV3-python312-arm64"
"""Powertools v3 (with pydantic) for the functions' runtime and architecture."""


@dataclass(frozen=True)
class Route:
    """One contract route and the handler module behind it."""

    path: str
    """The URL path segment, e.g. `request-token`."""
    module: str
    """The handler module in `handlers/`, e.g. `request_token`."""

    @property
    def handler(self) -> str:
        """The Lambda handler string."""
        return f"handlers.{self.module}.handler"


REQUEST_TOKEN = Route("request-token", "request_token")
VERIFY_TOKEN = Route("verify-token", "verify_token")
CANCEL_TOKEN = Route("cancel-token", "cancel_token")
ROUTES = (REQUEST_TOKEN, VERIFY_TOKEN, CANCEL_TOKEN)
"""The contract's three POST routes."""


@dataclass(frozen=True)
class RouteFunction:
    """A route's function with the log group it writes to."""

    route: Route
    function: aws.lambda_.Function
    log_group: aws.cloudwatch.LogGroup


@dataclass(frozen=True)
class _Shared:
    """What every function's builder needs."""

    name: str
    options: ServiceOptions
    aws_context: AwsContext
    keys: ServiceKeys
    table: aws.dynamodb.Table
    code: pulumi.Archive
    layers: list[pulumi.Input[str]]
    parent: pulumi.Resource


def create_functions(
    name: str,
    options: ServiceOptions,
    aws_context: AwsContext,
    keys: ServiceKeys,
    table: aws.dynamodb.Table,
    build_directory: Path,
    parent: pulumi.Resource,
) -> list[RouteFunction]:
    """Build the code archive and the dependency layer, then one function per route."""
    dependency_layer = aws.lambda_.LayerVersion(
        f"{name}-dependencies",
        layer_name=physical_name(name, "dependencies"),
        description="phonenumberslite, email-validator and their dependencies for OtpService",
        code=pulumi.FileArchive(str(build_dependency_layer(build_directory))),
        compatible_runtimes=[LAMBDA_RUNTIME],
        compatible_architectures=[LAMBDA_ARCHITECTURE],
        opts=pulumi.ResourceOptions(parent=parent),
    )
    powertools_layer = pulumi.Output.concat(
        "arn:",
        aws_context.partition,
        ":lambda:",
        aws_context.region,
        f":{POWERTOOLS_LAYER_ACCOUNT}:layer:{POWERTOOLS_LAYER_NAME}:",
        str(options.infrastructure.powertools_layer_version),
    )
    shared = _Shared(
        name=name,
        options=options,
        aws_context=aws_context,
        keys=keys,
        table=table,
        code=pulumi.FileArchive(str(build_code_archive(build_directory))),
        layers=[powertools_layer, dependency_layer.arn],
        parent=parent,
    )
    return [_create_route_function(shared, route) for route in ROUTES]


def _create_route_function(shared: _Shared, route: Route) -> RouteFunction:
    prefix = f"{shared.name}-{route.path}"
    options = pulumi.ResourceOptions(parent=shared.parent)
    log_group = aws.cloudwatch.LogGroup(
        f"{prefix}-logs",
        retention_in_days=shared.options.infrastructure.log_retention_days,
        kms_key_id=shared.keys.encryption_key.arn,
        opts=options,
    )
    role = aws.iam.Role(
        f"{prefix}-role",
        description=f"Runs the OtpService {route.path} function",
        assume_role_policy=assume_role_policy(shared.aws_context.service_principal("lambda")),
        opts=options,
    )
    role_policy = aws.iam.RolePolicy(
        f"{prefix}-policy",
        role=role.id,
        policy=policy_document(_statements(shared, route, log_group)),
        opts=options,
    )
    function = aws.lambda_.Function(
        f"{prefix}-fn",
        description=f"OtpService POST /{route.path}",
        role=role.arn,
        runtime=LAMBDA_RUNTIME,
        architectures=[LAMBDA_ARCHITECTURE],
        handler=route.handler,
        code=shared.code,
        layers=shared.layers,
        memory_size=shared.options.infrastructure.memory_size_mb,
        timeout=FUNCTION_TIMEOUT_SECONDS,
        environment={"variables": _environment(shared, route)},
        kms_key_arn=shared.keys.encryption_key.arn,
        tracing_config={"mode": "Active"},
        logging_config={
            "log_format": "JSON",
            "log_group": log_group.name,
            "application_log_level": "INFO",
            "system_log_level": "WARN",
        },
        # The role must hold its permissions before Lambda validates tracing and the key.
        opts=pulumi.ResourceOptions(parent=shared.parent, depends_on=[role_policy]),
    )
    return RouteFunction(route=route, function=function, log_group=log_group)


def _environment(shared: _Shared, route: Route) -> dict[str, pulumi.Input[str]]:
    """Only what the route's handler reads, and nothing secret."""
    infrastructure = shared.options.infrastructure
    environment: dict[str, pulumi.Input[str]] = {
        ENV_TABLE_NAME: shared.table.name,
        ENV_POLICY: shared.options.policy.to_env(),
        "POWERTOOLS_SERVICE_NAME": POWERTOOLS_SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    if route in (REQUEST_TOKEN, VERIFY_TOKEN):
        environment[ENV_MAC_KEY_ID] = shared.keys.mac_key.arn
    if route == REQUEST_TOKEN:
        environment[ENV_BRAND_NAME] = infrastructure.brand_name
        if infrastructure.email_sender is not None:
            environment[ENV_EMAIL_SENDER] = infrastructure.email_sender
        if infrastructure.sms_sender_id is not None:
            environment[ENV_SMS_SENDER_ID] = infrastructure.sms_sender_id
    return environment


def _statements(
    shared: _Shared, route: Route, log_group: aws.cloudwatch.LogGroup
) -> list[Statement]:
    """Exactly the actions the route's handler calls, on exactly its resources."""
    table_arn = shared.table.arn
    statements = [
        allow(
            "WriteOwnLogGroup",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [pulumi.Output.concat(log_group.arn, ":*")],
        ),
        # X-Ray has no resource-level permissions: "*" is the only resource it accepts.
        allow("SendTraces", ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], ["*"]),
        # Lambda decrypts the environment, and DynamoDB the table key, as this role.
        allow("DecryptWithServiceKey", ["kms:Decrypt"], [shared.keys.encryption_key.arn]),
    ]
    if route == CANCEL_TOKEN:
        statements.append(allow("BurnPendingCode", ["dynamodb:UpdateItem"], [table_arn]))
    if route == VERIFY_TOKEN:
        # Codes issued before a rotation name the retired key; verify still derives its subkey.
        mac_keys: list[pulumi.Input[str]] = [shared.keys.mac_key.arn]
        if shared.keys.retired_mac_key is not None:
            mac_keys.append(shared.keys.retired_mac_key.arn)
        statements += [
            allow("CountAttemptsAndConsumeCode", ["dynamodb:UpdateItem"], [table_arn]),
            allow("DeriveMacSubkey", ["kms:GenerateMac"], mac_keys),
        ]
    if route == REQUEST_TOKEN:
        statements += [
            allow(
                "IssueCodeTransactionally",
                [
                    "dynamodb:ConditionCheckItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                ],
                [table_arn],
            ),
            allow("DeriveMacSubkey", ["kms:GenerateMac"], [shared.keys.mac_key.arn]),
            # SMS to a phone number has no resource ARN, so sns:Publish needs "*"; the Deny
            # below takes every topic away, leaving only direct SMS.
            allow("SendSmsToPhoneNumbers", ["sns:Publish"], ["*"]),
            deny("NeverPublishToTopics", ["sns:Publish"], ["arn:*:sns:*:*:*"]),
        ]
        sender = shared.options.infrastructure.email_sender
        if sender is not None:
            domain = sender.rsplit("@", 1)[1]
            statements.append(
                allow(
                    "SendEmailFromConfiguredSender",
                    ["ses:SendEmail"],
                    [
                        shared.aws_context.arn("ses", f"identity/{sender}"),
                        shared.aws_context.arn("ses", f"identity/{domain}"),
                    ],
                    {"StringEquals": {"ses:FromAddress": sender}},
                )
            )
    return statements
