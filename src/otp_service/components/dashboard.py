"""A CloudWatch dashboard of the figures the alarms watch."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from ..handlers.metric_names import NAMESPACE, SERVICE, Metric
from .alarms import CHANNELS, SMS_DIRECT_PUBLISH_DIMENSION, SMS_SUCCESS_RATE_QUERY
from .functions import RouteFunction
from .iam import AwsContext
from .naming import physical_name
from .rest_api import STAGE_NAME, ServiceApi


def create_dashboard(
    name: str,
    aws_context: AwsContext,
    functions: list[RouteFunction],
    table: aws.dynamodb.Table,
    api: ServiceApi,
    parent: pulumi.Resource,
) -> aws.cloudwatch.Dashboard:
    """One row each for the API, the functions, the table, the OTP outcomes and SMS."""

    def widget(title: str, metrics: list[list[Any]], stat: str = "Sum") -> dict[str, Any]:
        return {
            "type": "metric",
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "region": aws_context.region,
                "stat": stat,
                "period": 300,
                "view": "timeSeries",
                "metrics": metrics,
            },
        }

    direct_sms = [item for pair in SMS_DIRECT_PUBLISH_DIMENSION.items() for item in pair]
    api_dims = ["ApiName", api.rest_api.name, "Stage", STAGE_NAME]
    function_names = [(rf.route.slug, rf.function.name) for rf in functions]
    widgets = [
        widget(
            "API requests and errors",
            [["AWS/ApiGateway", metric, *api_dims] for metric in ("Count", "4XXError", "5XXError")],
        ),
        widget("API latency p99 (ms)", [["AWS/ApiGateway", "Latency", *api_dims]], stat="p99"),
        widget(
            "Function errors and throttles",
            [
                ["AWS/Lambda", metric, "FunctionName", function_name, {"label": f"{path} {metric}"}]
                for path, function_name in function_names
                for metric in ("Errors", "Throttles")
            ],
        ),
        widget(
            "Function duration p99 (ms)",
            [
                ["AWS/Lambda", "Duration", "FunctionName", function_name, {"label": path}]
                for path, function_name in function_names
            ],
            stat="p99",
        ),
        widget(
            "Table throttles and system errors",
            [
                ["AWS/DynamoDB", "ReadThrottleEvents", "TableName", table.name],
                ["AWS/DynamoDB", "WriteThrottleEvents", "TableName", table.name],
                *[
                    ["AWS/DynamoDB", "SystemErrors", "TableName", table.name, "Operation", op]
                    for op in ("GetItem", "UpdateItem", "TransactWriteItems")
                ],
            ],
        ),
        widget(
            "OTP outcomes",
            [
                [NAMESPACE, metric.value, "service", SERVICE, "channel", channel]
                for metric in Metric
                for channel in CHANNELS
            ],
        ),
        widget(
            "Fraud Guard (SMS)",
            [
                [NAMESPACE, metric.value, "service", SERVICE, "channel", "sms"]
                for metric in (
                    Metric.CODE_SENT,
                    Metric.BLOCKED_SEND,
                    Metric.PREFIX_BLOCKED,
                    Metric.SMS_BUDGET_EXHAUSTED,
                    Metric.FRAUD_GUARD_FAILED,
                )
            ],
        ),
        widget(
            "SMS delivery",
            [
                ["AWS/SNS", metric, *direct_sms]
                for metric in ("NumberOfNotificationsDelivered", "NumberOfNotificationsFailed")
            ],
        ),
        widget(
            "SMS success rate",
            [[{"expression": SMS_SUCCESS_RATE_QUERY, "label": "SMSSuccessRate", "id": "rate"}]],
            stat="Average",
        ),
        widget(
            "SMS spend this month (USD)",
            [["AWS/SNS", "SMSMonthToDateSpentUSD"]],
            stat="Maximum",
        ),
    ]
    return aws.cloudwatch.Dashboard(
        f"{name}-dashboard",
        dashboard_name=physical_name(name, max_length=255),
        dashboard_body=pulumi.Output.json_dumps({"widgets": widgets}),
        opts=pulumi.ResourceOptions(parent=parent),
    )
