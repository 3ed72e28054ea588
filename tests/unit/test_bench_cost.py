"""Bench item 6 prices what a pair makes happen off the request path, not only on it."""

from __future__ import annotations

import pytest

from bench import prices
from bench.cost import PAIRS, FunctionConfig, OffPath, PairCost, pair_costs
from otp_service.handlers.settings import Policy

CONFIG = FunctionConfig(
    stack="dev", memory_mb=1024, architecture="arm64", brand_name="Acme", policy=Policy()
)
OFF_PATH = OffPath(invocations=6, billed_ms=37, write_units=13, log_bytes=0, sns_publishes=2)


def _without_sms(off_path: OffPath) -> PairCost:
    rows = pair_costs(CONFIG, 10.2, 5.5, 17, 1000, 1, off_path)
    return next(row for row in rows if row.scenario.startswith("without SMS"))


def test_the_off_path_work_raises_each_line_by_its_units_times_its_price() -> None:
    before, after = _without_sms(OffPath()), _without_sms(OFF_PATH)
    gb_second = prices.LAMBDA_GB_SECOND["arm64"].usd
    rises = {
        "lambda_requests": 6 * prices.LAMBDA_REQUEST.usd * PAIRS,
        "lambda_duration": 37 / 1000 * 1024 / 1024 * gb_second * PAIRS,
        "dynamodb_writes": 13 * prices.DYNAMODB_WRITE_REQUEST_UNIT.usd * PAIRS,
        "event_publishes": 2 * prices.SNS_PUBLISH.usd * PAIRS,
    }
    for line, rise in rises.items():
        assert getattr(after, line) - getattr(before, line) == pytest.approx(rise, abs=0.01), line
    assert after.total - before.total == pytest.approx(sum(rises.values()), abs=0.01)
    assert (after.api_gateway, after.delivery) == (before.api_gateway, before.delivery)


def test_an_sns_publish_costs_half_a_dollar_per_million_with_no_free_tier() -> None:
    assert prices.SNS_PUBLISH.usd * 1_000_000 == pytest.approx(0.50)
    assert _without_sms(OffPath(sns_publishes=1)).event_publishes == pytest.approx(0.50)
