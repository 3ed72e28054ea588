"""Structured JSON logs and EMF metrics; neither ever carries a code, phone number or email."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

SERVICE = "otp"
NAMESPACE = "OtpService"

logger = Logger(service=SERVICE)


def count(metric: str, channel: str) -> None:
    """Emit one EMF count for `metric`, dimensioned by service and channel."""
    with single_metric(
        name=metric,
        unit=MetricUnit.Count,
        value=1,
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE},
    ) as emitted:
        emitted.add_dimension(name="channel", value=channel)
