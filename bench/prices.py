"""Public AWS list prices (US East, N. Virginia) the cost estimate uses, each with its source.

Looked up on 2026-11-24 through the project's reference search; AWS renders several rate
tables client-side, so where the AWS page's text did not carry the number, the figure is taken
from the named secondary source that quotes it, and the AWS page is given as the authority.
Update a price here, with its source and date, when AWS changes it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

LOOKED_UP = "2026-11-24"


@dataclass(frozen=True)
class Price:
    """One list price, its unit and where it was read."""

    usd: float
    unit: str
    source: str
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        """The price as plain JSON values."""
        return {**asdict(self), "looked_up": LOOKED_UP}


LAMBDA_REQUEST = Price(
    0.20 / 1_000_000,
    "per request",
    "https://aws.amazon.com/lambda/pricing/ ($0.20 per 1M requests, x86 and Arm alike)",
)
LAMBDA_GB_SECOND = {
    "arm64": Price(
        0.0000133334,
        "per GB-second (first 7.5 billion GB-s a month)",
        "https://aws.amazon.com/lambda/pricing/, as quoted by "
        "https://cloudchipr.com/blog/aws-lambda-pricing (Arm, us-east-1)",
        "billed per 1 ms, rounded up",
    ),
    "x86_64": Price(
        0.0000166667,
        "per GB-second (first 6 billion GB-s a month)",
        "https://aws.amazon.com/lambda/pricing/, as quoted by "
        "https://cloudchipr.com/blog/aws-lambda-pricing (x86, us-east-1)",
        "billed per 1 ms, rounded up",
    ),
}
API_GATEWAY_REST_REQUEST = Price(
    3.50 / 1_000_000,
    "per REST API call (first 333 million a month)",
    "https://docs.aws.amazon.com/whitepapers/latest/best-practices-api-gateway-private-apis-"
    "integration/cost-optimization.html (Table 4); https://aws.amazon.com/api-gateway/pricing/",
)
DYNAMODB_WRITE_REQUEST_UNIT = Price(
    0.625 / 1_000_000,
    "per on-demand write request unit",
    "https://aws.amazon.com/dynamodb/pricing/on-demand/ (price after the 2024-11-01 "
    "reduction), as quoted by https://airbyte.com/data-engineering-resources/dynamodb-pricing",
    "1 WRU per 1 KB written; a transactional write takes 2; a failed conditional write still "
    "consumes its units",
)
CLOUDWATCH_LOGS_INGESTION_GB = Price(
    0.50,
    "per GB ingested (Standard class; first tier of Lambda's tiered log pricing)",
    "https://aws.amazon.com/cloudwatch/pricing/, as quoted by https://www.duckbillgroup.com/?p=9080",
)
KMS_REQUEST = Price(
    0.03 / 10_000,
    "per KMS API request",
    "https://aws.amazon.com/kms/pricing/, as quoted by https://www.wring.co/blog/aws-kms-pricing-guide",
    "the handlers call KMS once per container start, not per request",
)
SES_EMAIL = Price(
    0.10 / 1000,
    "per email sent",
    "https://aws.amazon.com/ses/pricing/, as quoted by "
    "https://www.acecloudinterviews.com/tutorials/aws/ses/",
)
SNS_PUBLISH = Price(
    0.50 / 1_000_000,
    "per publish request to a standard topic (each 64 KB chunk of payload is one request)",
    "https://aws.amazon.com/sns/pricing/, as quoted by "
    "https://www.factualminds.com/blog/amazon-sns-pricing-publishes-fanout-protocols/ "
    "(looked up 2026-11-25)",
    "the monthly free first million is not applied; deliveries to the topic's subscribers "
    "are billed per protocol on top and depend on the consumer's subscriptions, so they are "
    "left out",
)
SMS_US_MESSAGE_PART = Price(
    0.00581,
    "per outbound SMS message part to the US (AWS fee)",
    "https://aws.amazon.com/end-user-messaging/pricing/ (US destination)",
    "NOT verified here: the AWS rate table is rendered client-side and no stored copy quoted "
    "it; confirm on the AWS page before relying on the SMS rows",
)
SMS_US_CARRIER_FEE = Price(
    0.0025,
    "per outbound SMS message part to the US (carrier pass-through, toll-free number)",
    "https://support.plivo.com/hc/en-us/articles/360048420591 (Verizon, AT&T and T-Mobile "
    "toll-free surcharges of $0.0025 per segment); AWS passes carrier fees through",
    "10DLC and short-code carrier fees differ by carrier",
)


def all_prices() -> dict[str, dict[str, Any]]:
    """Every price, by name, for the JSON results."""
    prices = {
        "lambda_request": LAMBDA_REQUEST,
        "api_gateway_rest_request": API_GATEWAY_REST_REQUEST,
        "dynamodb_write_request_unit": DYNAMODB_WRITE_REQUEST_UNIT,
        "cloudwatch_logs_ingestion_gb": CLOUDWATCH_LOGS_INGESTION_GB,
        "kms_request": KMS_REQUEST,
        "ses_email": SES_EMAIL,
        "sns_publish": SNS_PUBLISH,
        "sms_us_message_part": SMS_US_MESSAGE_PART,
        "sms_us_carrier_fee": SMS_US_CARRIER_FEE,
    }
    prices.update({f"lambda_gb_second_{arch}": p for arch, p in LAMBDA_GB_SECOND.items()})
    return {name: price.as_json() for name, price in prices.items()}
