"""Fraud Guard in the events function: each stream batch's sends and verifications, counted.

The events function already reads the table's change stream (NEW_AND_OLD_IMAGES) off the
request path, so the conversion signal costs request-token and verify-token nothing. A batch
is counted at once: one `UpdateItem` per prefix and per country it touches, however many of its
records do (`FraudLedger.apply`), so a busy range or country costs a write per batch, not per
send. A block is logged, counted (`PrefixBlocked`) and published on the events topic as a
lifecycle-style `fraud.prefix_blocked` event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from .errors import error_code
from .fraud import FraudPolicy
from .fraud_store import Block, FraudLedger, signals_from_stream
from .lifecycle import rfc3339
from .metric_names import Metric
from .observability import count, logger

Publish = Callable[[dict[str, Any]], None]


class FraudConsumer:
    """Feeds each stream batch to the ledger at once and announces every block it makes."""

    def __init__(
        self,
        dynamodb: Any,
        table_name: str,
        policy: FraudPolicy,
        clock: Callable[[], float],
        publish: Publish | None = None,
    ) -> None:
        self._ledger = FraudLedger(dynamodb, table_name, policy)
        self._clock = clock
        self._publish = publish
        self.blocks: list[dict[str, Any]] = []
        """Every block event this container made, oldest first (for tests and the bench)."""

    def __call__(self, records: Sequence[Mapping[str, Any]]) -> None:
        now = int(self._clock())
        try:
            blocks = self._ledger.apply(signals_from_stream(records), now)
        except Exception as error:  # noqa: BLE001 - counting must never hold up lifecycle events
            # The batch's lifecycle events are published regardless; its sends and
            # verifications go uncounted, which only makes the guard a little slower to block.
            count(Metric.FRAUD_GUARD_FAILED, "sms")
            logger.error("fraud guard could not count a batch", extra=_failure(error))
            return
        for block in blocks:
            event = block_event(block, now)
            count(Metric.PREFIX_BLOCKED, "sms")
            logger.warning("prefix blocked", extra={k: event[k] for k in _LOGGED})
            if self._publish is not None:
                self._publish(event)
            self.blocks.append(event)


_LOGGED = ("prefix", "reason", "offences", "blocked_until")


def _failure(error: Exception) -> dict[str, Any]:
    """Only the type and the AWS error code: provider messages can quote anything."""
    code = error_code(error) if isinstance(error, ClientError) else None
    return {"error": type(error).__name__, "aws_error_code": code}


def block_event(block: Block, now: int) -> dict[str, Any]:
    """The event announcing a block, shaped like the verification lifecycle's events.

    Its id is stable per prefix and block, so a replayed stream record repeats it.
    """
    digest = hashlib.sha256(f"{block.prefix}:{block.blocked_until}".encode()).hexdigest()
    return {
        "event_id": f"ev_{digest[:32]}",
        "type": "fraud.prefix_blocked",
        "channel": "sms",
        "prefix": block.prefix,
        "reason": block.reason,
        "offences": block.offences,
        "blocked_until": rfc3339(block.blocked_until),
        "occurred_at": rfc3339(now),
    }


def topic_publisher(sns: Any, topic_arn: str) -> Publish:
    """Publish an event on the events topic with the `type` and `channel` attributes."""

    def publish(event: dict[str, Any]) -> None:
        sns.publish(
            TopicArn=topic_arn,
            Message=json.dumps(event, separators=(",", ":")),
            MessageAttributes={
                "type": {"DataType": "String", "StringValue": event["type"]},
                "channel": {"DataType": "String", "StringValue": event["channel"]},
            },
        )

    return publish
