"""The alarm topic and one alarm per failure mode of the service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws

from ..handlers.metric_names import NAMESPACE, SERVICE, Metric
from .functions import (
    FUNCTION_TIMEOUT_SECONDS,
    RouteFunction,
)
from .keys import ServiceKeys
from .options import ServiceOptions
from .rest_api import STAGE_NAME, ServiceApi

PERIOD_SECONDS = 300
CHANNELS = ("sms", "email", "unknown")
"""Values of the `channel` dimension the handlers emit."""

SMS_SPEND_ALARM_FRACTION = 0.8
"""Warn at 80 % of the monthly SMS spend limit: SNS stops sending SMS once the limit is hit."""

DURATION_ALARM_FRACTION = 0.8
"""Warn when p99 duration reaches 80 % of the timeout, before requests start timing out."""

API_LATENCY_P99_ALARM_MS = 5000
"""p99 latency the API should stay under: a send is one KMS call, a transaction and one SMS."""

DELIVERY_FAILURES_ALARM_THRESHOLD = 3
"""Failed sends in five minutes that suggest the provider, not one bad number, is failing."""

SMS_DIRECT_PUBLISH_DIMENSION = {"PhoneNumber": "PhoneNumberDirect"}
"""How SNS reports SMS published straight to a phone number (not through a topic)."""

SMS_SUCCESS_RATE_ALARM_THRESHOLD = 0.9
"""Share of SMS delivered to handsets below which carriers, not single numbers, are failing."""

SMS_SUCCESS_RATE_QUERY = 'SELECT AVG(SMSSuccessRate) FROM "AWS/SNS"'
"""A Metrics Insights query: SNS reports the rate per country and SMS type, so it averages all."""

BLOCKED_SENDS_ALARM_THRESHOLD = 20
"""SMS requests Fraud Guard refused in five minutes: an attack under way, or real users caught."""

SMS_BUDGET_ALARM_FRACTION = 0.8
"""Warn when the SMS sent in the last 24 hours reach 80 % of the daily budget."""

DAY_SECONDS = 86_400
"""The longest an alarm may look back (period times evaluation periods)."""


def create_alarm_topic(
    name: str, options: ServiceOptions, keys: ServiceKeys, parent: pulumi.Resource
) -> aws.sns.Topic:
    """The encrypted topic every alarm notifies, with the optional email subscription."""
    topic = aws.sns.Topic(
        f"{name}-alarms",
        kms_master_key_id=keys.encryption_key.arn,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    if options.alarm_email is not None:
        aws.sns.TopicSubscription(
            f"{name}-alarms-email",
            topic=topic.arn,
            protocol="email",
            endpoint=options.alarm_email,
            opts=pulumi.ResourceOptions(parent=parent),
        )
    return topic


def create_alarms(
    name: str,
    options: ServiceOptions,
    topic: aws.sns.Topic,
    functions: list[RouteFunction],
    table: aws.dynamodb.Table,
    api: ServiceApi,
    parent: pulumi.Resource,
) -> list[aws.cloudwatch.MetricAlarm]:
    """Alarms on functions, API, table, SMS and email delivery, SMS spend and lockouts."""

    def alarm(mode: str, description: str, **metric: Any) -> aws.cloudwatch.MetricAlarm:
        settings: dict[str, Any] = {
            "comparison_operator": "GreaterThanOrEqualToThreshold",
            "evaluation_periods": 1,
            "treat_missing_data": "notBreaching",
        }
        settings.update(metric)
        return aws.cloudwatch.MetricAlarm(
            f"{name}-{mode}-alarm",
            alarm_description=f"OtpService {name}: {description}",
            alarm_actions=[topic.arn],
            ok_actions=[topic.arn],
            opts=pulumi.ResourceOptions(parent=parent),
            **settings,
        )

    infrastructure = options.infrastructure
    alarms = []
    for route_function in functions:
        path = route_function.route.slug
        dimensions = {"FunctionName": route_function.function.name}
        lambda_metric = {"namespace": "AWS/Lambda", "dimensions": dimensions}
        alarms += [
            alarm(
                f"{path}-errors",
                f"{path} function raised errors (unhandled exceptions or timeouts)",
                metric_name="Errors",
                statistic="Sum",
                period=PERIOD_SECONDS,
                threshold=1,
                **lambda_metric,
            ),
            alarm(
                f"{path}-throttles",
                f"{path} function was throttled (concurrency exhausted)",
                metric_name="Throttles",
                statistic="Sum",
                period=PERIOD_SECONDS,
                threshold=1,
                **lambda_metric,
            ),
            alarm(
                f"{path}-duration",
                f"{path} p99 duration is near the {FUNCTION_TIMEOUT_SECONDS} s timeout",
                metric_name="Duration",
                extended_statistic="p99",
                period=PERIOD_SECONDS,
                threshold=FUNCTION_TIMEOUT_SECONDS * 1000 * DURATION_ALARM_FRACTION,
                **lambda_metric,
            ),
        ]

    api_dimensions = {"ApiName": api.rest_api.name, "Stage": STAGE_NAME}
    alarms += [
        alarm(
            "api-5xx",
            "the API answered 5XX (dependencies down, provider rejections or a bug)",
            namespace="AWS/ApiGateway",
            metric_name="5XXError",
            dimensions=api_dimensions,
            statistic="Sum",
            period=PERIOD_SECONDS,
            threshold=5,
        ),
        alarm(
            "api-latency",
            f"API p99 latency above {API_LATENCY_P99_ALARM_MS} ms for 15 minutes",
            namespace="AWS/ApiGateway",
            metric_name="Latency",
            dimensions=api_dimensions,
            extended_statistic="p99",
            period=PERIOD_SECONDS,
            evaluation_periods=3,
            threshold=API_LATENCY_P99_ALARM_MS,
        ),
        alarm(
            "table-throttles",
            "DynamoDB throttled reads or writes on the table",
            metric_queries=_sum_of(
                {
                    kind.lower(): _metric(
                        "AWS/DynamoDB", f"{kind}ThrottleEvents", {"TableName": table.name}
                    )
                    for kind in ("Read", "Write")
                }
            ),
            threshold=1,
        ),
        alarm(
            "table-system-errors",
            "DynamoDB returned system errors (HTTP 500) for the table",
            metric_queries=_sum_of(
                {
                    operation.lower(): _metric(
                        "AWS/DynamoDB",
                        "SystemErrors",
                        {"TableName": table.name, "Operation": operation},
                    )
                    for operation in ("GetItem", "UpdateItem", "TransactWriteItems")
                }
            ),
            threshold=1,
        ),
        alarm(
            "sms-delivery-failed",
            "SNS rejected SMS sends (requests answered 502 delivery_failed)",
            metric_queries=_sum_of({"sms": _otp_metric(Metric.DELIVERY_FAILED, "sms")}),
            threshold=DELIVERY_FAILURES_ALARM_THRESHOLD,
        ),
        alarm(
            "sms-carrier-failed",
            "SNS could not deliver SMS to handsets (carrier or destination failures)",
            namespace="AWS/SNS",
            metric_name="NumberOfNotificationsFailed",
            dimensions=SMS_DIRECT_PUBLISH_DIMENSION,
            statistic="Sum",
            period=PERIOD_SECONDS,
            threshold=DELIVERY_FAILURES_ALARM_THRESHOLD,
        ),
        alarm(
            "sms-success-rate",
            f"fewer than {SMS_SUCCESS_RATE_ALARM_THRESHOLD:.0%} of SMS reached handsets",
            comparison_operator="LessThanThreshold",
            evaluation_periods=3,
            datapoints_to_alarm=2,
            metric_queries=[
                {
                    "id": "rate",
                    "expression": SMS_SUCCESS_RATE_QUERY,
                    "period": PERIOD_SECONDS,
                    "return_data": True,
                }
            ],
            threshold=SMS_SUCCESS_RATE_ALARM_THRESHOLD,
        ),
        alarm(
            "lockout-spike",
            "many users locked out of verification at once (possible guessing attack)",
            metric_queries=_sum_of(
                {channel: _otp_metric(Metric.LOCKED_OUT, channel) for channel in CHANNELS}
            ),
            threshold=infrastructure.lockout_alarm_threshold,
        ),
        alarm(
            "dependency-unavailable",
            "requests answered 503 because DynamoDB, KMS, SNS or SES was throttled or down",
            metric_queries=_sum_of(
                {
                    channel: _otp_metric(Metric.DEPENDENCY_UNAVAILABLE, channel)
                    for channel in CHANNELS
                }
            ),
            threshold=1,
        ),
    ]
    if infrastructure.fraud_guard.enabled:
        alarms += _fraud_guard_alarms(alarm, infrastructure.fraud_guard.daily_budget)
    if infrastructure.manage_sms_preferences:
        # The spend metric is account-wide: only the stack that sets the limit watches it.
        alarms.append(
            alarm(
                "sms-spend",
                f"SMS spend this month reached {SMS_SPEND_ALARM_FRACTION:.0%} of the "
                f"{infrastructure.sms_monthly_spend_limit_usd} USD limit",
                namespace="AWS/SNS",
                metric_name="SMSMonthToDateSpentUSD",
                statistic="Maximum",
                period=3600,
                threshold=infrastructure.sms_monthly_spend_limit_usd * SMS_SPEND_ALARM_FRACTION,
            )
        )
    if infrastructure.email_sender is not None:
        alarms.append(
            alarm(
                "email-delivery-failed",
                "SES rejected email sends (requests answered 502 delivery_failed)",
                metric_queries=_sum_of({"email": _otp_metric(Metric.DELIVERY_FAILED, "email")}),
                threshold=DELIVERY_FAILURES_ALARM_THRESHOLD,
            )
        )
    return alarms


def _fraud_guard_alarms(
    alarm: Callable[..., aws.cloudwatch.MetricAlarm], daily_budget: int
) -> list[aws.cloudwatch.MetricAlarm]:
    """Blocks, refused sends, a spent budget and a failing consumer (README, "Fraud Guard")."""

    def sms_count(metric: Metric, period: int = PERIOD_SECONDS) -> dict[str, Any]:
        return {
            "metric_queries": _sum_of({"sms": {**_otp_metric(metric, "sms"), "period": period}})
        }

    return [
        alarm(
            "fraud-prefix-blocked",
            "Fraud Guard blocked a number prefix (SMS pumping, or real users in it: otp-fraud)",
            threshold=1,
            **sms_count(Metric.PREFIX_BLOCKED),
        ),
        alarm(
            "fraud-blocked-sends",
            f"Fraud Guard refused at least {BLOCKED_SENDS_ALARM_THRESHOLD} SMS requests "
            "in five minutes (blocked prefixes or a spent budget)",
            threshold=BLOCKED_SENDS_ALARM_THRESHOLD,
            **sms_count(Metric.BLOCKED_SEND),
        ),
        alarm(
            "sms-budget-exhausted",
            "a daily SMS budget is spent: every SMS request to it is refused until 00:00 UTC",
            threshold=1,
            **sms_count(Metric.SMS_BUDGET_EXHAUSTED),
        ),
        alarm(
            "sms-budget-near",
            f"SMS sent in the last 24 hours reached {SMS_BUDGET_ALARM_FRACTION:.0%} of the "
            f"daily budget of {daily_budget}",
            threshold=daily_budget * SMS_BUDGET_ALARM_FRACTION,
            **sms_count(Metric.CODE_SENT, DAY_SECONDS),
        ),
        alarm(
            "fraud-guard-failed",
            "Fraud Guard could not count stream records (it blocks later, or not at all)",
            threshold=1,
            **sms_count(Metric.FRAUD_GUARD_FAILED),
        ),
    ]


def _metric(
    namespace: str, metric_name: str, dimensions: dict[str, pulumi.Input[str]]
) -> dict[str, Any]:
    return {
        "namespace": namespace,
        "metric_name": metric_name,
        "dimensions": dimensions,
        "period": PERIOD_SECONDS,
        "stat": "Sum",
    }


def _otp_metric(metric_name: Metric, channel: str) -> dict[str, Any]:
    """One of the handlers' EMF metrics for one channel."""
    dimensions: dict[str, pulumi.Input[str]] = {
        "service": SERVICE,
        "channel": channel,
    }
    return _metric(NAMESPACE, metric_name.value, dimensions)


def _sum_of(metrics: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Metric queries whose result is the sum of the given metrics, missing points as zero."""
    queries: list[dict[str, Any]] = [
        {"id": query_id, "metric": metric, "return_data": False}
        for query_id, metric in metrics.items()
    ]
    summed = ",".join(f"FILL({query_id},0)" for query_id in metrics)
    queries.append({"id": "total", "expression": f"SUM([{summed}])", "return_data": True})
    return queries
