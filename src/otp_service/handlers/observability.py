"""Structured JSON logs and EMF metrics; neither ever carries a code, phone number or email."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from .metric_names import NAMESPACE, SERVICE, Metric

logger = Logger(service=SERVICE)

SENT_LOG_MESSAGE = "message sent"
"""request-token's line for each message a provider accepted; the receipts subscription's filter."""


def count(metric: Metric, channel: str) -> None:
    """Emit one EMF count for `metric`, dimensioned by service and channel."""
    # `single_metric` prints whatever POWERTOOLS_METRICS_DISABLED says; honour it here.
    if is_metrics_disabled():
        return
    with single_metric(
        name=metric.value,
        unit=MetricUnit.Count,
        value=1,
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE},
    ) as emitted:
        emitted.add_dimension(name="channel", value=channel)
