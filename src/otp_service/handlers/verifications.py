"""`GET /verifications/{verification_id}`: one verification's state, read from the table.

While a verification is the user's latest, the user's item is the truth (every write to it
is exact); once it ended, its record is, with the outcome the events function wrote there.
"""

from __future__ import annotations

from typing import Any

from .lifecycle import Delivery, VerificationState, is_verification_id, rfc3339, state_of
from .table import DELIVERY, PARTITION_KEY, STATUS, Status, user_key, verification_key


class VerificationReader:
    """Reads a verification's record and, while it may still be live, its user's item."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._db = dynamodb
        self._table = table_name

    def describe(
        self, verification_id: str, now: int, retention_seconds: int
    ) -> dict[str, Any] | None:
        """The contract's view of the verification; None for a malformed, unknown or retired id."""
        if not is_verification_id(verification_id):
            return None
        record = self._get(verification_key(verification_id))
        recorded = state_of(record)
        if record is None or recorded is None or now >= recorded.created_at + retention_seconds:
            return None
        state, status = recorded, _recorded_status(record)
        if status is None:
            state, status = self._live(recorded, now)
        delivery = str(record.get(DELIVERY, {}).get("S", Delivery.SENT))
        if status == Status.DELIVERY_FAILED:
            delivery = Delivery.FAILED
        return {
            "verification_id": state.verification_id,
            "user_id": state.user_id,
            "status": status.value,
            "channel": state.channel,
            "destination": state.destination,
            "created_at": rfc3339(state.created_at),
            "expires_at": rfc3339(state.expires_at),
            "delivery": delivery,
        }

    def _live(self, recorded: VerificationState, now: int) -> tuple[VerificationState, Status]:
        """The status from the user's item: exact while the verification is the latest."""
        current = state_of(self._get(user_key(recorded.user_id)))
        if current is not None and current.verification_id == recorded.verification_id:
            return current, current.status(now)
        # A newer request replaced it and the events function has not recorded its end yet.
        replaced_at = current.created_at if current is not None else now
        status = recorded.status(replaced_at)
        return recorded, Status.SUPERSEDED if status == Status.PENDING else status

    def _get(self, key: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._db.get_item(
            TableName=self._table, Key={PARTITION_KEY: {"S": key}}, ConsistentRead=True
        ).get("Item")
        return item


def _recorded_status(record: dict[str, Any]) -> Status | None:
    status = record.get(STATUS, {}).get("S")
    return Status(status) if status else None
