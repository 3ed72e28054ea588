"""The events function: the table's change stream in, lifecycle events on the events topic out.

It runs off the request path (a stream event source mapping invokes it), so publishing never
adds latency to, or fails, a request. Delivery is at least once: a batch that fails is retried
from the first record that failed (`ReportBatchItemFailures`), so an event can be published
twice, always with the same `event_id`. Each decoded transition goes to every consumer in turn
(publish, then record the outcome on the verification record); another consumer (fraud rules,
say) is one more callable in `consumers`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from .container import Container, end_of_init, from_environment
from .errors import error_code
from .fraud_events import FraudConsumer, topic_publisher
from .lifecycle import OUTCOME_STATUSES, Transition, receipts, transitions
from .observability import logger
from .settings import ENV_EVENTS_TOPIC_ARN, Settings
from .table import PARTITION_KEY, STATUS, STATUS_AT, verification_key

Consumer = Callable[[Transition], None]
"""Something done with each decoded transition; raising makes the record's batch retry."""
StreamHandler = Callable[[dict[str, Any], Any], dict[str, Any]]
BatchConsumer = Callable[[Sequence[Mapping[str, Any]]], None]
"""Something done once with a batch's raw stream records (Fraud Guard's counters, one write per
prefix for the whole batch); raising retries the batch from its first record."""

_CONFIG = Config(
    connect_timeout=1.0, read_timeout=3.0, retries={"mode": "standard", "total_max_attempts": 3}
)


def decode(record: Mapping[str, Any]) -> list[Transition]:
    """The transitions one stream record shows; other items' changes show none."""
    change = record["dynamodb"]
    key = change["Keys"][PARTITION_KEY]["S"]
    old, new = change.get("OldImage"), change.get("NewImage")
    if key.startswith("user#"):
        return transitions(old, new)
    if key.startswith("verification#"):
        return receipts(old, new)
    return []


def process(
    records: Sequence[Mapping[str, Any]],
    consumers: Iterable[Consumer],
    batch_consumers: Iterable[BatchConsumer] = (),
) -> list[str]:
    """Hand every record's transitions to the consumers, in order, then the records handled to
    each batch consumer at once; the failed sequence numbers.

    Processing stops at the first failure: Lambda retries a stream batch from the lowest
    failed sequence number, so later records would be handled twice for nothing. The batch
    consumers see only the records before it (the rest come back in the retry).
    """
    handlers = list(consumers)
    handled, failed = records, []
    for n, record in enumerate(records):
        try:
            for transition in decode(record):
                for consumer in handlers:
                    consumer(transition)
        except Exception as error:  # noqa: BLE001 - the record is retried, then dead-lettered
            _not_processed(error)
            handled, failed = records[:n], [str(record["dynamodb"]["SequenceNumber"])]
            break
    if not handled:
        return failed
    for batch_consumer in batch_consumers:
        try:
            batch_consumer(handled)
        except Exception as error:  # noqa: BLE001 - the batch is retried, then dead-lettered
            _not_processed(error)
            return [str(handled[0]["dynamodb"]["SequenceNumber"])]
    return failed


def _not_processed(error: Exception) -> None:
    logger.error(
        "stream record not processed",
        extra={
            "error": type(error).__name__,
            "aws_error_code": error_code(error) if isinstance(error, ClientError) else None,
        },
    )


class EventPublisher:
    """Publishes each transition to the events topic, with `type` and `channel` attributes."""

    def __init__(self, sns: Any, topic_arn: str) -> None:
        self._sns = sns
        self._topic_arn = topic_arn

    def __call__(self, transition: Transition) -> None:
        event = transition.event()
        self._sns.publish(
            TopicArn=self._topic_arn,
            Message=json.dumps(event, separators=(",", ":")),
            MessageAttributes={
                "type": {"DataType": "String", "StringValue": event["type"]},
                "channel": {"DataType": "String", "StringValue": event["channel"]},
            },
        )


class OutcomeRecorder:
    """Writes a verification's terminal status onto its record, once; later writes lose."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._db = dynamodb
        self._table = table_name

    def __call__(self, transition: Transition) -> None:
        # A failed receipt is published as `delivery_failed` but ends nothing: the code is live.
        if transition.receipt or transition.type.value not in OUTCOME_STATUSES:
            return
        try:
            self._db.update_item(
                TableName=self._table,
                Key={
                    PARTITION_KEY: {"S": verification_key(transition.verification.verification_id)}
                },
                UpdateExpression="SET #status = :status, #at = :at",
                ConditionExpression=(
                    f"attribute_exists({PARTITION_KEY}) AND attribute_not_exists(#status)"
                ),
                ExpressionAttributeNames={"#status": STATUS, "#at": STATUS_AT},
                ExpressionAttributeValues={
                    ":status": {"S": transition.type.value},
                    ":at": {"N": str(transition.occurred_at)},
                },
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise


def build_consumers(settings: Settings, session: Any) -> tuple[Consumer, ...]:
    """Publish, then record the outcome: a crash between the two republishes the same event."""
    if settings.events_topic_arn is None:
        raise RuntimeError(f"{ENV_EVENTS_TOPIC_ARN} is not set for this function")
    return (
        EventPublisher(session.client("sns", config=_CONFIG), settings.events_topic_arn),
        OutcomeRecorder(session.client("dynamodb", config=_CONFIG), settings.table_name),
    )


@cache
def _consumers_of(container: Container) -> tuple[Consumer, ...]:
    return build_consumers(container.settings, container.session)


@cache
def _batch_consumers_of(container: Container) -> tuple[BatchConsumer, ...]:
    return build_batch_consumers(container.settings, container.session, container.clock)


def build_batch_consumers(
    settings: Settings, session: Any, clock: Callable[[], float]
) -> tuple[BatchConsumer, ...]:
    """The raw-batch consumers: Fraud Guard's counters, unless it is switched off."""
    if not settings.fraud_guard.enabled:
        return ()
    publish = None
    if settings.events_topic_arn is not None:
        publish = topic_publisher(session.client("sns", config=_CONFIG), settings.events_topic_arn)
    dynamodb = session.client("dynamodb", config=_CONFIG)
    return (FraudConsumer(dynamodb, settings.table_name, settings.fraud_guard, clock, publish),)


def handler_over(container: Callable[[], Container] = from_environment) -> StreamHandler:
    """The entry point over the collaborators `container` gives (the local stack hands in its
    own, built from the function's declared environment)."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        collaborators = container()
        failed = process(
            event.get("Records", []),
            _consumers_of(collaborators),
            _batch_consumers_of(collaborators),
        )
        return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}

    return handler


handler = handler_over()
"""The Lambda entry point for a batch of DynamoDB stream records."""

end_of_init()
