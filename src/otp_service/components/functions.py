"""One Lambda function per route: its code, layers, log group, role and least-privilege policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from ..handlers.metric_names import NAMESPACE, SERVICE
from ..handlers.settings import (
    ENV_ANDROID_APP_HASH,
    ENV_BRAND_NAME,
    ENV_EMAIL_SENDER,
    ENV_EVENTS_TOPIC_ARN,
    ENV_FRAUD_GUARD,
    ENV_MAC_KEY_ID,
    ENV_POLICY,
    ENV_RECEIPTS_CONFIGURATION_SET,
    ENV_RETIRED_MAC_KEY_ID,
    ENV_SMS_ORIGINATION_NUMBER,
    ENV_SMS_SENDER_ID,
    ENV_TABLE_NAME,
    ENV_WEB_OTP_DOMAIN,
)
from ..handlers.table import handset_key, idempotency_key
from .events_plumbing import EventsPlumbing
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
from .receipts import ReceiptsPlumbing

FUNCTION_TIMEOUT_SECONDS = 25
"""The handlers' bounded retries take at most ~20 s on the slowest path (tests/security prove the
bound from the clients' own settings); 25 s adds room for a cold start and stays under API
Gateway's 29 s integration timeout, so a slow dependency ends as the handler's own 503, never as
a gateway timeout."""

LIVE_ALIAS = "live"
"""With SnapStart, the alias the API invokes; it moves to each newly published version."""


@dataclass(frozen=True)
class Route:
    """One contract route and the handler module behind it."""

    path: str
    """The URL path segment, e.g. `request-token`."""
    module: str
    """The handler module in `handlers/`, e.g. `request_token`."""
    method: str = "POST"

    @property
    def slug(self) -> str:
        """The path as a name part: `verifications/{verification_id}` -> `verifications-id`."""
        return self.path.replace("/{verification_id}", "-id")

    @property
    def arn_path(self) -> str:
        """The path in an execute-api ARN, path parameters matched by `*`."""
        return self.path.replace("{verification_id}", "*")

    @property
    def handler(self) -> str:
        """The Lambda handler string."""
        return f"handlers.{self.module}.handler"


REQUEST_TOKEN = Route("request-token", "request_token")
VERIFY_TOKEN = Route("verify-token", "verify_token")
CANCEL_TOKEN = Route("cancel-token", "cancel_token")
GET_VERIFICATION = Route("verifications/{verification_id}", "get_verification", method="GET")
ROUTES = (REQUEST_TOKEN, VERIFY_TOKEN, CANCEL_TOKEN, GET_VERIFICATION)
"""The contract's routes."""

EVENTS = Route("events", "events")
"""Not a route: the function the table's stream invokes to publish lifecycle events."""

RECEIPTS = Route("receipts", "receipts")
"""Not a route: the function SES events and SMS delivery-status logs invoke."""

_DESCRIPTIONS = {
    EVENTS: "OtpService lifecycle events",
    RECEIPTS: "OtpService delivery receipts",
}


@dataclass(frozen=True)
class RouteFunction:
    """A route's function with the log group it writes to."""

    route: Route
    function: aws.lambda_.Function
    log_group: aws.cloudwatch.LogGroup
    role_policy: aws.iam.RolePolicy
    invoke_arn: pulumi.Output[str]
    """What the API integrates with: the function, or with SnapStart its `live` alias."""
    qualifier: str | None
    """The alias API Gateway invokes (`live` with SnapStart), else None."""

    @property
    def target_arn(self) -> pulumi.Output[str]:
        """What an event source invokes: the function, or with SnapStart its `live` alias."""
        if self.qualifier is None:
            return self.function.arn
        return pulumi.Output.concat(self.function.arn, ":", self.qualifier)


@dataclass(frozen=True)
class _Shared:
    """What every function's builder needs."""

    name: str
    options: ServiceOptions
    aws_context: AwsContext
    keys: ServiceKeys
    table: aws.dynamodb.Table
    events: EventsPlumbing
    receipts: ReceiptsPlumbing
    code: pulumi.Archive
    layers: list[pulumi.Input[str]]
    parent: pulumi.Resource


def create_functions(
    name: str,
    options: ServiceOptions,
    aws_context: AwsContext,
    keys: ServiceKeys,
    table: aws.dynamodb.Table,
    events: EventsPlumbing,
    receipts: ReceiptsPlumbing,
    build_directory: Path,
    parent: pulumi.Resource,
) -> tuple[list[RouteFunction], RouteFunction, RouteFunction]:
    """Build the code archive and the dependency layer, one function per route, the events
    function and the receipts function.

    verify-token is built first and request-token waits for its policy and configuration: at a
    MAC-key rotation, no code is made under the new key before verify may use that key.
    """
    dependency_layer = aws.lambda_.LayerVersion(
        f"{name}-dependencies",
        layer_name=physical_name(name, "dependencies"),
        description="OtpService handlers' runtime libraries, pinned as requirements.lock pins them",
        code=pulumi.FileArchive(str(build_dependency_layer(build_directory))),
        compatible_runtimes=[LAMBDA_RUNTIME],
        compatible_architectures=[LAMBDA_ARCHITECTURE],
        opts=pulumi.ResourceOptions(parent=parent),
    )
    shared = _Shared(
        name=name,
        options=options,
        aws_context=aws_context,
        keys=keys,
        table=table,
        events=events,
        receipts=receipts,
        code=pulumi.FileArchive(str(build_code_archive(build_directory))),
        layers=[dependency_layer.arn],
        parent=parent,
    )
    verify = _create_route_function(shared, VERIFY_TOKEN)
    cancel = _create_route_function(shared, CANCEL_TOKEN)
    request = _create_route_function(
        shared, REQUEST_TOKEN, after=[verify.role_policy, verify.function]
    )
    status = _create_route_function(shared, GET_VERIFICATION)
    by_route = {built.route: built for built in (verify, cancel, request, status)}
    return (
        [by_route[route] for route in ROUTES],
        _create_route_function(shared, EVENTS),
        _create_route_function(shared, RECEIPTS),
    )


def _create_route_function(
    shared: _Shared, route: Route, after: Sequence[pulumi.Resource] = ()
) -> RouteFunction:
    prefix = f"{shared.name}-{route.slug}"
    options = pulumi.ResourceOptions(parent=shared.parent)
    log_group = aws.cloudwatch.LogGroup(
        f"{prefix}-logs",
        retention_in_days=shared.options.infrastructure.log_retention_days,
        kms_key_id=shared.keys.encryption_key.arn,
        opts=options,
    )
    role = aws.iam.Role(
        f"{prefix}-role",
        description=f"Runs the OtpService {route.slug} function",
        assume_role_policy=assume_role_policy(shared.aws_context.service_principal("lambda")),
        opts=options,
    )
    role_policy = aws.iam.RolePolicy(
        f"{prefix}-policy",
        role=role.id,
        policy=policy_document(_statements(shared, route, log_group)),
        opts=options,
    )
    reserved = shared.options.infrastructure.reserved_concurrency
    snap_start = shared.options.infrastructure.snap_start
    function = aws.lambda_.Function(
        f"{prefix}-fn",
        description=_DESCRIPTIONS.get(route, f"OtpService {route.method} /{route.path}"),
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
        # Caps each function (and so the SMS send rate); -1 is Lambda's "unreserved".
        reserved_concurrent_executions=reserved if reserved > 0 else -1,
        tracing_config={"mode": "Active"},
        # SnapStart snapshots a published version after init; the handlers derive nothing
        # unique before the first request (see handlers/keys.py).
        publish=snap_start,
        snap_start={"apply_on": "PublishedVersions"} if snap_start else None,
        logging_config={
            "log_format": "JSON",
            "log_group": log_group.name,
            "application_log_level": "INFO",
            "system_log_level": "WARN",
        },
        # The role must hold its permissions before Lambda validates tracing and the key.
        opts=pulumi.ResourceOptions(parent=shared.parent, depends_on=[role_policy, *after]),
    )
    if not snap_start:
        return RouteFunction(route, function, log_group, role_policy, function.invoke_arn, None)
    alias = aws.lambda_.Alias(
        f"{prefix}-live",
        name=LIVE_ALIAS,
        description=f"The published version of OtpService POST /{route.path} the API calls",
        function_name=function.name,
        function_version=function.version,
        opts=options,
    )
    return RouteFunction(route, function, log_group, role_policy, alias.invoke_arn, LIVE_ALIAS)


def _environment(shared: _Shared, route: Route) -> dict[str, pulumi.Input[str]]:
    """Only what the route's handler reads, and nothing secret."""
    infrastructure = shared.options.infrastructure
    environment: dict[str, pulumi.Input[str]] = {
        ENV_TABLE_NAME: shared.table.name,
        ENV_POLICY: shared.options.policy.to_env(),
        "POWERTOOLS_SERVICE_NAME": SERVICE,
        "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": "INFO",
        # The handlers use no pydantic plugin; without this, the first validation of a cold
        # start reads the entry points of every installed distribution to look for one.
        "PYDANTIC_DISABLE_PLUGINS": "__all__",
    }
    if route in (REQUEST_TOKEN, EVENTS):
        environment[ENV_FRAUD_GUARD] = infrastructure.fraud_guard.to_env()
    if route == EVENTS:
        environment[ENV_EVENTS_TOPIC_ARN] = shared.events.topic.arn
    if route in (REQUEST_TOKEN, VERIFY_TOKEN):
        environment[ENV_MAC_KEY_ID] = shared.keys.mac_key.arn
    if route in (REQUEST_TOKEN, VERIFY_TOKEN) and shared.keys.retired_mac_key is not None:
        # Verify tries each guess under both generations in its one write (codes in flight);
        # request counts a destination's sends under both, so a rotation resets no limit.
        environment[ENV_RETIRED_MAC_KEY_ID] = shared.keys.retired_mac_key.arn
    if route == REQUEST_TOKEN:
        environment[ENV_BRAND_NAME] = infrastructure.brand_name
        if infrastructure.email_sender is not None:
            environment[ENV_EMAIL_SENDER] = infrastructure.email_sender
        if infrastructure.sms_sender_id is not None:
            environment[ENV_SMS_SENDER_ID] = infrastructure.sms_sender_id
        if infrastructure.sms_origination_number is not None:
            environment[ENV_SMS_ORIGINATION_NUMBER] = infrastructure.sms_origination_number
        if infrastructure.web_otp_domain is not None:
            environment[ENV_WEB_OTP_DOMAIN] = infrastructure.web_otp_domain
        if infrastructure.android_app_hash is not None:
            environment[ENV_ANDROID_APP_HASH] = infrastructure.android_app_hash
        if shared.receipts.configuration_set is not None:
            environment[ENV_RECEIPTS_CONFIGURATION_SET] = (
                shared.receipts.configuration_set.configuration_set_name
            )
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
        # DynamoDB decrypts the table key as this role; only through DynamoDB. (Lambda decrypts
        # the environment through its own grant on the key, not through this role.)
        allow(
            "DecryptTableKeyThroughDynamoDb",
            ["kms:Decrypt"],
            [shared.keys.encryption_key.arn],
            {"StringEquals": {"kms:ViaService": shared.aws_context.service_endpoint("dynamodb")}},
        ),
    ]
    if route == EVENTS:
        statements += _events_statements(shared)
    if route == RECEIPTS:
        statements += _receipts_statements(shared)
    if route == GET_VERIFICATION:
        statements.append(
            allow(
                "ReadVerificationsAndTheirUsers",
                ["dynamodb:GetItem"],
                [table_arn],
                {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["verification#*", "user#*"]}},
            )
        )
    if route == CANCEL_TOKEN:
        statements.append(allow("BurnPendingCode", ["dynamodb:UpdateItem"], [table_arn]))
    # Codes issued before a rotation, and destinations counted before it, are MACed under the
    # retired key: verify and request still derive its subkey.
    mac_keys: list[pulumi.Input[str]] = [shared.keys.mac_key.arn]
    if shared.keys.retired_mac_key is not None:
        mac_keys.append(shared.keys.retired_mac_key.arn)
    if route == VERIFY_TOKEN:
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
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                ],
                [table_arn],
            ),
            # Reads: an Idempotency-Key's first answer, and whether a number a range block
            # refused is a proven handset.
            allow(
                "ReadIdempotencyRecordsAndProvenHandsets",
                ["dynamodb:GetItem"],
                [table_arn],
                {
                    "ForAllValues:StringLike": {
                        "dynamodb:LeadingKeys": [idempotency_key("*"), handset_key("*")]
                    }
                },
            ),
            allow("DeriveMacSubkey", ["kms:GenerateMac"], mac_keys),
            # SMS to a phone number has no resource ARN, so sns:Publish needs "*"; the Deny
            # below takes every topic away, leaving only direct SMS.
            allow("SendSmsToPhoneNumbers", ["sns:Publish"], ["*"]),
            deny("NeverPublishToTopics", ["sns:Publish"], ["arn:*:sns:*:*:*"]),
        ]
        sender = shared.options.infrastructure.email_sender
        if sender is not None:
            domain = sender.rsplit("@", 1)[1]
            resources: list[pulumi.Input[str]] = [
                shared.aws_context.arn("ses", f"identity/{sender}"),
                shared.aws_context.arn("ses", f"identity/{domain}"),
            ]
            # SES also authorizes a send on the identity's default configuration set.
            configuration_set = shared.options.infrastructure.email_configuration_set
            if configuration_set is not None:
                resources.append(
                    shared.aws_context.arn("ses", f"configuration-set/{configuration_set}")
                )
            receipts_set = shared.receipts.configuration_set
            if receipts_set is not None:
                resources.append(
                    pulumi.Output.concat(
                        shared.aws_context.arn("ses", "configuration-set/"),
                        receipts_set.configuration_set_name,
                    )
                )
            statements.append(
                allow(
                    "SendEmailFromConfiguredSender",
                    ["ses:SendEmail"],
                    resources,
                    {"StringEquals": {"ses:FromAddress": sender}},
                )
            )
    return statements


def _events_statements(shared: _Shared) -> list[Statement]:
    """Read this table's stream, publish to this topic, dead-letter to this queue, and record
    outcomes on verification records only."""
    return [
        allow(
            "ReadOwnStream",
            ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
            [shared.table.stream_arn],
        ),
        # The stream mapping also needs ListStreams, which has no resource-level permission: on
        # the stream's ARN it is never allowed (as AWS's own execution role and CDK grant it).
        allow("ListStreams", ["dynamodb:ListStreams"], ["*"]),
        allow("PublishLifecycleEvents", ["sns:Publish"], [shared.events.topic.arn]),
        # The topic and the queue are encrypted with the service key: sending needs a data key.
        allow(
            "EncryptForTopicAndQueue",
            ["kms:Decrypt", "kms:GenerateDataKey"],
            [shared.keys.encryption_key.arn],
            {
                "StringEquals": {
                    "kms:ViaService": [
                        shared.aws_context.service_endpoint("sns"),
                        shared.aws_context.service_endpoint("sqs"),
                    ]
                }
            },
        ),
        allow(
            "DeadLetterFailedBatches", ["sqs:SendMessage"], [shared.events.dead_letter_queue.arn]
        ),
        allow(
            "RecordOutcomesOnVerificationRecords",
            ["dynamodb:UpdateItem"],
            [shared.table.arn],
            {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["verification#*"]}},
        ),
        # Fraud Guard's stream consumer counts sends and verifications per prefix and writes
        # blocks, on its own `fraud#` items only.
        allow(
            "CountAndBlockPrefixes",
            ["dynamodb:GetItem", "dynamodb:UpdateItem"],
            [shared.table.arn],
            {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["fraud#*"]}},
        ),
    ]


def _receipts_statements(shared: _Shared) -> list[Statement]:
    """Set `delivery` on verification records, pair SMS message ids, dead-letter failures."""
    return [
        allow(
            "RecordReceiptsOnVerificationsAndMessages",
            ["dynamodb:UpdateItem"],
            [shared.table.arn],
            {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["verification#*", "message#*"]}},
        ),
        # Lambda sends a failed asynchronous invocation to the destination with this role.
        allow(
            "DeadLetterFailedInvocations",
            ["sqs:SendMessage"],
            [shared.receipts.dead_letter_queue.arn],
        ),
        allow(
            "EncryptForDeadLetterQueue",
            ["kms:Decrypt", "kms:GenerateDataKey"],
            [shared.keys.encryption_key.arn],
            {"StringEquals": {"kms:ViaService": shared.aws_context.service_endpoint("sqs")}},
        ),
    ]
