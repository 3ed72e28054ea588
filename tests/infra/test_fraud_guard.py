"""Fraud Guard's alarms and dashboard under mocks.

What CloudWatch requires, not only what the mocks accept: an alarm's period times its
evaluation periods is at most one day (86,400 s), and a metric-math alarm returns exactly one
time series (one query with `ReturnData` true).
"""

from __future__ import annotations

import json
from typing import Any

import pulumi

from otp_service.components.iam import parse_policy
from otp_service.handlers.metric_names import NAMESPACE, Metric
from tests.infra.test_dev_stack import service_key_arn
from tests.support.pulumi_mocks import Recording, RunProgram, pulumi_test

TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/otp-table-1a2b3c4"

FRAUD_ALARMS = {
    "otp-fraud-prefix-blocked-alarm": Metric.PREFIX_BLOCKED,
    "otp-fraud-blocked-sends-alarm": Metric.BLOCKED_SEND,
    "otp-fraud-guard-failed-alarm": Metric.FRAUD_GUARD_FAILED,
    "otp-sms-budget-exhausted-alarm": Metric.SMS_BUDGET_EXHAUSTED,
    "otp-sms-budget-near-alarm": Metric.CODE_SENT,
}


def _summed(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    return [query["metric"] for query in alarm["metricQueries"] if "metric" in query]


@pulumi_test
def test_each_fraud_guard_alarm_counts_its_sms_metric(run_stack: RunProgram) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        for name, metric in FRAUD_ALARMS.items():
            alarm = recording.named(name).inputs
            [summed] = _summed(alarm)
            assert (summed["namespace"], summed["metricName"]) == (NAMESPACE, metric.value), name
            assert summed["dimensions"] == {"service": "otp", "channel": "sms"}, name
            assert [q["returnData"] for q in alarm["metricQueries"]].count(True) == 1, name
        assert recording.named("otp-sms-budget-exhausted-alarm").inputs["threshold"] == 1
        assert recording.named("otp-fraud-prefix-blocked-alarm").inputs["threshold"] == 1

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_the_budget_alarm_warns_at_80_percent_of_the_configured_day(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        alarm = recording.named("otp-sms-budget-near-alarm").inputs
        assert alarm["threshold"] == 4000
        [summed] = _summed(alarm)
        assert summed["period"] == 86_400
        assert alarm["evaluationPeriods"] == 1

    return run_stack("dev", fraudGuard={"dailyBudget": 5000}).settled().apply(check)


@pulumi_test
def test_no_alarm_looks_back_more_than_a_day(run_stack: RunProgram) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        for alarm in recording.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
            inputs = alarm.inputs
            periods = [inputs.get("period", 0)] + [m["period"] for m in _summed_or_none(inputs)]
            assert max(periods) * inputs["evaluationPeriods"] <= 86_400, alarm.name

    return run_stack("prod").settled().apply(check)


def _summed_or_none(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    return _summed(alarm) if "metricQueries" in alarm else []


@pulumi_test
def test_a_disabled_guard_has_no_fraud_alarms(run_stack: RunProgram) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        names = {a.name for a in recording.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
        assert names.isdisjoint(FRAUD_ALARMS)
        assert "otp-api-5xx-alarm" in names

    return run_stack("dev", fraudGuard={"enabled": False}).settled().apply(check)


@pulumi_test
def test_the_dashboard_has_a_fraud_guard_row(run_stack: RunProgram) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        body = json.loads(
            recording.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"]
        )
        [widget] = [w for w in body["widgets"] if w["properties"]["title"] == "Fraud Guard (SMS)"]
        rows = widget["properties"]["metrics"]
        assert {row[1] for row in rows} == {metric.value for metric in set(FRAUD_ALARMS.values())}
        assert all(row[0] == NAMESPACE and row[-1] == "sms" for row in rows)

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_the_operator_policy_reads_and_lifts_only_fraud_block_items(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        policy = recording.named("otp-fraud-admin-policy")
        by_sid = {s["Sid"]: s for s in parse_policy(policy.inputs["policy"])}
        assert set(by_sid) == {"ListAndLiftPrefixBlocks", "DecryptTableKeyThroughDynamoDb"}
        items = by_sid["ListAndLiftPrefixBlocks"]
        assert items["Action"] == ["dynamodb:GetItem", "dynamodb:UpdateItem"]
        assert items["Resource"] == [TABLE_ARN]
        assert items["Condition"] == {
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["fraud#blocks", "fraud#prefix#*"]}
        }
        decrypt = by_sid["DecryptTableKeyThroughDynamoDb"]
        assert decrypt["Action"] == ["kms:Decrypt"]
        assert decrypt["Resource"] == [service_key_arn(recording)]
        assert decrypt["Condition"] == {
            "StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}
        }

    return run_stack("dev").settled().apply(check)


@pulumi_test
def test_request_token_reads_only_idempotency_records_and_proven_handsets(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    """Its one `GetItem` grant is confined by key: no user's item, no Fraud Guard counter."""

    def check(recording: Recording) -> None:
        policy = recording.named("otp-request-token-policy")
        statements = parse_policy(policy.inputs["policy"])
        reads = [s for s in statements if "dynamodb:GetItem" in s["Action"]]
        assert len(reads) == 1
        assert reads[0]["Action"] == ["dynamodb:GetItem"]
        assert reads[0]["Resource"] == [TABLE_ARN]
        assert reads[0]["Condition"] == {
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["idem#*", "fraud#handset#*"]}
        }

    return run_stack("dev").settled().apply(check)
