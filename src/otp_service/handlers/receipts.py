"""The receipts function: providers' delivery receipts in, a verification's `delivery` out.

It is invoked asynchronously, off every request path, by two sources:

- the receipts topic (SNS), where the SES configuration set publishes each email's Delivery,
  Bounce, Complaint and Reject events; an email names its verification in a message tag;
- CloudWatch Logs subscriptions: SNS's SMS delivery-status logs, which name only the
  provider's message id, and request-token's "message sent" lines, which pair that id with the
  verification. The two meet on a `message#<id>` item, in whichever order they arrive.

It writes only the verification record's `delivery` (first receipt wins; a replay changes
nothing), and the table's stream then publishes `verification.delivered` or
`verification.delivery_failed`. Receipts carry full phone numbers and addresses: nothing here
logs one. A batch with an AWS failure raises, so Lambda retries it and then dead-letters it.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

from .container import Container, end_of_init, from_environment
from .delivery import RECEIPT_TAG
from .errors import error_code
from .lifecycle import Delivery, is_verification_id
from .observability import SENT_LOG_MESSAGE, logger
from .table import (
    DELIVERY,
    DELIVERY_AT,
    PARTITION_KEY,
    TTL_ATTRIBUTE,
    VERIFICATION_ID,
    message_key,
    verification_key,
)

MESSAGE_PAIRING_SECONDS = 4 * 86_400
"""How long a `message#` item waits for its other half: carrier receipts take up to 72 hours."""

SES_OUTCOMES = {
    "Delivery": Delivery.DELIVERED,
    "Bounce": Delivery.FAILED,
    "Reject": Delivery.FAILED,
}
"""The SES events that settle a message; a Complaint comes after a delivery and changes nothing."""

SMS_OUTCOMES = {"SUCCESS": Delivery.DELIVERED, "FAILURE": Delivery.FAILED}
"""The `status` of an SNS SMS delivery-status log entry."""


@dataclass(frozen=True)
class Receipt:
    """A provider's final word on one message."""

    delivery: Delivery
    at: int
    verification_id: str | None = None
    """Named by the email's message tag."""
    message_id: str | None = None
    """The provider's id, for an SMS receipt (matched through request-token's sent line)."""


@dataclass(frozen=True)
class SentMessage:
    """request-token's sent line: the provider's message id of a verification's SMS."""

    message_id: str
    verification_id: str


Received = Receipt | SentMessage


def _epoch(timestamp: str) -> int:
    """SES's `2016-10-19T23:21:04.133Z` or SNS's `2016-06-28 00:40:34.558`, both UTC."""
    moment = datetime.fromisoformat(timestamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def ses_receipt(event: Mapping[str, Any]) -> Receipt | None:
    """The receipt an SES event is, if it settles a message this service tagged."""
    delivery = SES_OUTCOMES.get(str(event.get("eventType")))
    mail = event.get("mail") or {}
    tagged = (mail.get("tags") or {}).get(RECEIPT_TAG) or []
    if delivery is None or not tagged or not is_verification_id(str(tagged[0])):
        return None
    detail = event.get(str(event["eventType"]).lower()) or {}
    at = _epoch(str(detail.get("timestamp") or mail["timestamp"]))
    return Receipt(delivery, at, verification_id=str(tagged[0]))


def from_log_entry(entry: Mapping[str, Any]) -> Received | None:
    """An SMS delivery-status entry or a sent line, from one subscribed log event's JSON."""
    if entry.get("message") == SENT_LOG_MESSAGE:
        message_id, verification_id = entry.get("message_id"), entry.get("verification_id")
        if entry.get("channel") != "sms" or not message_id or not isinstance(verification_id, str):
            return None
        return SentMessage(str(message_id), verification_id)
    delivery = SMS_OUTCOMES.get(str(entry.get("status")))
    notification = entry.get("notification") or {}
    if delivery is None or not notification.get("messageId"):
        return None
    at = _epoch(str(notification["timestamp"]))
    return Receipt(delivery, at, message_id=str(notification["messageId"]))


def read_event(event: Mapping[str, Any]) -> tuple[list[Received], int]:
    """What an invocation brings, and how many of its entries could not be read."""
    if "awslogs" in event:
        payload = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
        raw: Iterable[Any] = (e.get("message") for e in payload.get("logEvents", []))
        parse: Callable[[Mapping[str, Any]], Received | None] = from_log_entry
    else:
        raw = (r.get("Sns", {}).get("Message") for r in event.get("Records", []))
        parse = ses_receipt
    found: list[Received] = []
    unreadable = 0
    for text in raw:
        try:
            item = parse(json.loads(text))
        except (TypeError, ValueError, KeyError, AttributeError):
            unreadable += 1
            continue
        if item is not None:
            found.append(item)
    return found, unreadable


class ReceiptStore:
    """Pairs SMS message ids with their verifications and records receipts on the records."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._db = dynamodb
        self._table = table_name

    def apply(self, item: Received, now: int) -> None:
        """Record one receipt or sent line; applying it again changes nothing."""
        if isinstance(item, SentMessage):
            self._pair(
                item.message_id,
                f"{VERIFICATION_ID} = :verification",
                {":verification": {"S": item.verification_id}},
                now,
            )
        elif item.verification_id is not None:
            self._deliver(item.verification_id, item.delivery, item.at)
        elif item.message_id is not None:
            self._pair(
                item.message_id,
                f"{DELIVERY} = if_not_exists({DELIVERY}, :delivery), "
                f"{DELIVERY_AT} = if_not_exists({DELIVERY_AT}, :at)",
                {":delivery": {"S": item.delivery.value}, ":at": {"N": str(item.at)}},
                now,
            )

    def _pair(self, message_id: str, assignment: str, values: dict[str, Any], now: int) -> None:
        """Write one half onto the message's item; whichever half comes second settles it."""
        answer = self._db.update_item(
            TableName=self._table,
            Key={PARTITION_KEY: {"S": message_key(message_id)}},
            UpdateExpression=f"SET {assignment}, {TTL_ATTRIBUTE} = :ttl",
            ExpressionAttributeValues={**values, ":ttl": {"N": str(now + MESSAGE_PAIRING_SECONDS)}},
            ReturnValues="ALL_NEW",
        )
        paired = answer["Attributes"]
        if VERIFICATION_ID in paired and DELIVERY in paired:
            self._deliver(
                paired[VERIFICATION_ID]["S"],
                Delivery(paired[DELIVERY]["S"]),
                int(paired[DELIVERY_AT]["N"]),
            )

    def _deliver(self, verification_id: str, delivery: Delivery, at: int) -> None:
        """Set the record's `delivery` once, from `sent`; a retired record is left alone."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key={PARTITION_KEY: {"S": verification_key(verification_id)}},
                UpdateExpression="SET #delivery = :delivery, #at = :at",
                ConditionExpression=(
                    f"attribute_exists({PARTITION_KEY}) AND "
                    "(attribute_not_exists(#delivery) OR #delivery = :sent)"
                ),
                ExpressionAttributeNames={"#delivery": DELIVERY, "#at": DELIVERY_AT},
                ExpressionAttributeValues={
                    ":delivery": {"S": delivery.value},
                    ":at": {"N": str(at)},
                    ":sent": {"S": Delivery.SENT.value},
                },
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise


class ReceiptsNotRecorded(RuntimeError):
    """Some receipts hit an AWS failure: the invocation fails, so Lambda retries it."""


def receive(items: Iterable[Received], store: ReceiptStore, now: int) -> int:
    """Apply every item, then raise if any failed; the number applied."""
    applied = failed = 0
    for item in items:
        try:
            store.apply(item, now)
            applied += 1
        except ClientError as error:
            failed += 1
            logger.error("receipt not recorded", extra={"aws_error_code": error_code(error)})
    if failed:
        raise ReceiptsNotRecorded(f"{failed} receipts not recorded")
    return applied


@cache
def _store_of(container: Container) -> ReceiptStore:
    return ReceiptStore(container.store.client, container.settings.table_name)


def handler_over(
    container: Callable[[], Container] = from_environment,
) -> Callable[[dict[str, Any], Any], dict[str, int]]:
    """The entry point over the collaborators `container` gives (the local stack's own)."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
        collaborators = container()
        items, unreadable = read_event(event)
        if unreadable:
            # Never the entry itself: SMS logs and SES events hold full numbers and addresses.
            logger.warning("unreadable receipts skipped", extra={"unreadable": unreadable})
        applied = receive(items, _store_of(collaborators), collaborators.now())
        return {"applied": applied, "unreadable": unreadable}

    return handler


handler = handler_over()
"""The Lambda entry point for the receipts topic and the log subscriptions."""

end_of_init()
