"""The REST API: the contract's three POST routes, caller authorization, throttling, logs, WAF."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .functions import RouteFunction
from .gateway_responses import create_gateway_responses, gateway_responses_fingerprint
from .iam import AwsContext, allow, assume_role_policy, policy_document
from .keys import ServiceKeys
from .options import AuthMode, ServiceOptions

STAGE_NAME = "v1"
"""The stage, named after the contract version it serves."""

ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "integrationLatency": "$context.integration.latency",
        "integrationStatus": "$context.integration.status",
        "sourceIp": "$context.identity.sourceIp",
        "caller": "$context.identity.caller",
        "apiKeyId": "$context.identity.apiKeyId",
        "errorMessage": "$context.error.message",
        "wafStatus": "$context.waf.status",
    },
    separators=(",", ":"),
)
"""One JSON object per request; bodies are never logged (they hold phone numbers and codes)."""


@dataclass(frozen=True)
class ServiceApi:
    """The parts of the API that outputs, alarms and the dashboard refer to."""

    rest_api: aws.apigateway.RestApi
    stage: aws.apigateway.Stage
    invoke_policy: aws.iam.Policy
    api_key: aws.apigateway.ApiKey | None


def create_api(
    name: str,
    options: ServiceOptions,
    aws_context: AwsContext,
    keys: ServiceKeys,
    functions: list[RouteFunction],
    parent: pulumi.Resource,
) -> ServiceApi:
    """Create the API with one authorized POST method per route and its stage."""
    child = pulumi.ResourceOptions(parent=parent)
    infrastructure = options.infrastructure
    api_key_mode = infrastructure.auth_mode == AuthMode.API_KEY
    rest_api = aws.apigateway.RestApi(
        f"{name}-api",
        description="OtpService: request, verify and cancel one-time passcodes",
        endpoint_configuration={"types": "REGIONAL"},
        api_key_source="HEADER",
        opts=child,
    )
    route_parts: list[pulumi.Resource] = []
    route_fingerprint: list[pulumi.Input[str]] = [infrastructure.auth_mode.value]
    resources: dict[str, aws.apigateway.Resource] = {}
    for route_function in functions:
        route = route_function.route
        parent_id: pulumi.Input[str] = rest_api.root_resource_id
        path = ""
        for part in route.path.split("/"):
            path = f"{path}/{part}".lstrip("/")
            if path not in resources:
                slug = path.replace("/{verification_id}", "-id")
                resources[path] = aws.apigateway.Resource(
                    f"{name}-{slug}-resource",
                    rest_api=rest_api.id,
                    parent_id=parent_id,
                    path_part=part,
                    opts=child,
                )
                route_parts.append(resources[path])
            parent_id = resources[path].id
        resource = resources[route.path]
        method = aws.apigateway.Method(
            f"{name}-{route.slug}-method",
            rest_api=rest_api.id,
            resource_id=resource.id,
            http_method=route.method,
            authorization="NONE" if api_key_mode else "AWS_IAM",
            api_key_required=api_key_mode,
            opts=child,
        )
        integration = aws.apigateway.Integration(
            f"{name}-{route.slug}-integration",
            rest_api=rest_api.id,
            resource_id=resource.id,
            http_method=method.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",
            uri=route_function.invoke_arn,
            opts=child,
        )
        aws.lambda_.Permission(
            f"{name}-{route.slug}-invoke",
            action="lambda:InvokeFunction",
            function=route_function.function.name,
            qualifier=route_function.qualifier,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(
                rest_api.execution_arn, f"/{STAGE_NAME}/{route.method}/{route.arn_path}"
            ),
            opts=child,
        )
        route_parts += [method, integration]
        route_fingerprint += [method.id, integration.id, route_function.invoke_arn]

    gateway_responses = create_gateway_responses(name, rest_api, parent)
    route_parts += gateway_responses
    route_fingerprint.append(gateway_responses_fingerprint())
    deployment = aws.apigateway.Deployment(
        f"{name}-deployment",
        rest_api=rest_api.id,
        description="OtpService routes",
        # A new deployment whenever a route, its authorization, its target function or a
        # gateway response changes: API Gateway serves none of them before a deployment.
        triggers={"routes": pulumi.Output.json_dumps(route_fingerprint)},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=route_parts),
    )
    access_logs = aws.cloudwatch.LogGroup(
        f"{name}-api-access-logs",
        retention_in_days=infrastructure.log_retention_days,
        kms_key_id=keys.encryption_key.arn,
        opts=child,
    )
    stage_depends_on: list[pulumi.Resource] = []
    if infrastructure.manage_api_gateway_account:
        stage_depends_on.append(_create_account_logging_role(name, aws_context, parent))
    stage = aws.apigateway.Stage(
        f"{name}-stage",
        rest_api=rest_api.id,
        deployment=deployment.id,
        stage_name=STAGE_NAME,
        xray_tracing_enabled=True,
        access_log_settings={"destination_arn": access_logs.arn, "format": ACCESS_LOG_FORMAT},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=stage_depends_on),
    )
    aws.apigateway.MethodSettings(
        f"{name}-stage-settings",
        rest_api=rest_api.id,
        stage_name=stage.stage_name,
        method_path="*/*",
        settings={
            "throttling_rate_limit": infrastructure.throttle_rate_limit,
            "throttling_burst_limit": infrastructure.throttle_burst_limit,
            "metrics_enabled": True,
            "logging_level": "OFF",
            "data_trace_enabled": False,
        },
        opts=child,
    )
    api_key = _create_usage_plan(name, options, rest_api, stage, parent) if api_key_mode else None
    if infrastructure.waf_enabled:
        _create_web_acl(name, options, stage, parent)
    invoke_policy = aws.iam.Policy(
        f"{name}-invoke-policy",
        description="Lets a caller's role sign requests to every OtpService route (IAM mode)",
        policy=policy_document(
            [
                allow(
                    "InvokeOtpRoutes",
                    ["execute-api:Invoke"],
                    [
                        pulumi.Output.concat(
                            rest_api.execution_arn,
                            f"/{STAGE_NAME}/{rf.route.method}/{rf.route.arn_path}",
                        )
                        for rf in functions
                    ],
                )
            ]
        ),
        opts=child,
    )
    return ServiceApi(rest_api=rest_api, stage=stage, invoke_policy=invoke_policy, api_key=api_key)


def _create_usage_plan(
    name: str,
    options: ServiceOptions,
    rest_api: aws.apigateway.RestApi,
    stage: aws.apigateway.Stage,
    parent: pulumi.Resource,
) -> aws.apigateway.ApiKey:
    """An API key bound to a usage plan with the stage's throttle and a daily quota."""
    child = pulumi.ResourceOptions(parent=parent)
    infrastructure = options.infrastructure
    api_key = aws.apigateway.ApiKey(
        f"{name}-api-key", description="OtpService caller key", enabled=True, opts=child
    )
    usage_plan = aws.apigateway.UsagePlan(
        f"{name}-usage-plan",
        description="OtpService callers",
        api_stages=[{"api_id": rest_api.id, "stage": stage.stage_name}],
        throttle_settings={
            "rate_limit": infrastructure.throttle_rate_limit,
            "burst_limit": infrastructure.throttle_burst_limit,
        },
        quota_settings={"limit": infrastructure.api_key_quota_per_day, "period": "DAY"},
        opts=child,
    )
    aws.apigateway.UsagePlanKey(
        f"{name}-usage-plan-key",
        key_id=api_key.id,
        key_type="API_KEY",
        usage_plan_id=usage_plan.id,
        opts=child,
    )
    return api_key


def _create_web_acl(
    name: str, options: ServiceOptions, stage: aws.apigateway.Stage, parent: pulumi.Resource
) -> None:
    """A regional web ACL that blocks any IP exceeding the per-IP rate in five minutes."""
    child = pulumi.ResourceOptions(parent=parent)
    metric_prefix = "".join(c if c.isalnum() else "-" for c in name)
    web_acl = aws.wafv2.WebAcl(
        f"{name}-waf",
        description="OtpService: per-IP rate limit",
        scope="REGIONAL",
        default_action={"allow": {}},
        rules=[
            {
                "name": "per-ip-rate-limit",
                "priority": 0,
                "action": {"block": {}},
                "statement": {
                    "rate_based_statement": {
                        "limit": options.infrastructure.waf_rate_limit_per_ip,
                        "aggregate_key_type": "IP",
                        "evaluation_window_sec": 300,
                    }
                },
                "visibility_config": {
                    "cloudwatch_metrics_enabled": True,
                    "metric_name": f"{metric_prefix}-per-ip-rate-limit",
                    "sampled_requests_enabled": True,
                },
            }
        ],
        visibility_config={
            "cloudwatch_metrics_enabled": True,
            "metric_name": f"{metric_prefix}-waf",
            "sampled_requests_enabled": True,
        },
        opts=child,
    )
    aws.wafv2.WebAclAssociation(
        f"{name}-waf-association",
        resource_arn=stage.arn,
        web_acl_arn=web_acl.arn,
        # A stage holds one web ACL: replacing the association in place would create the new one
        # before deleting the old, and the delete would leave the stage unprotected.
        opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
    )


def _create_account_logging_role(
    name: str, aws_context: AwsContext, parent: pulumi.Resource
) -> aws.apigateway.Account:
    """The account-wide role API Gateway writes CloudWatch logs with (opt-in: one per region).

    Every REST API in the account and region logs through this setting, and destroying
    `aws.apigateway.Account` resets it (pulumi-aws 7): the setting, its role and the role's policy
    are retained when the owning stack is destroyed, so no other API loses its logs.
    """
    child = pulumi.ResourceOptions(parent=parent, retain_on_delete=True)
    role = aws.iam.Role(
        f"{name}-apigateway-logs-role",
        description="API Gateway writes access logs to CloudWatch Logs (account setting)",
        assume_role_policy=assume_role_policy(aws_context.service_principal("apigateway")),
        opts=child,
    )
    role_policy = aws.iam.RolePolicy(
        f"{name}-apigateway-logs-policy",
        role=role.id,
        policy=policy_document(
            [
                allow(
                    "WriteApiGatewayLogs",
                    [
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:DescribeLogGroups",
                        "logs:DescribeLogStreams",
                        "logs:PutLogEvents",
                    ],
                    [aws_context.arn("logs", "log-group:*")],
                )
            ]
        ),
        opts=child,
    )
    return aws.apigateway.Account(
        f"{name}-apigateway-account",
        cloudwatch_role_arn=role.arn,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[role_policy], retain_on_delete=True),
    )
