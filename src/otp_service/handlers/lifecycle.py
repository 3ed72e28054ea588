"""A verification's lifecycle: its id, its statuses, and the transitions the table's stream shows.

The user's item carries the state of the user's latest verification beside the pending code
(never the code or the full destination); each write to it that changes that state is one
transition. Cancel and a refused send record their outcome in the write they already make.
Verify's one write records only the attempt: approved (the first attempt that used the code,
before it expired) and max_attempts_reached (the attempt that made the failures reach the
code's limit) are read from the attempts themselves (`attempts.py`), exactly, in the item and
in the stream's images alike. Every event is decoded afterwards from the item's before and after
images. The decoding here is pure: the events function feeds it stream records.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from .attempts import MAX_ATTEMPTS, code_mac_of, entries_of, used_index
from .table import (
    CHANNEL,
    CREATED_AT,
    DELIVERY,
    DELIVERY_AT,
    EXPIRES_AT,
    MASKED_DESTINATION,
    OUTCOME,
    OUTCOME_AT,
    PARTITION_KEY,
    TEST,
    USER_ID,
    VERIFICATION_ID,
    Status,
    user_of,
)

VERIFICATION_ID_PREFIX = "vf_"
_ID_BYTES = 20
"""160 random bits, more than the contract's 128."""
_ID_PATTERN = re.compile(r"vf_[a-z2-7]{32}")

EVENT_TYPE_PREFIX = "verification."

OUTCOME_STATUSES = frozenset(s.value for s in Status if s != Status.PENDING)
"""The terminal statuses: once a verification has one, it never changes again."""


class Delivery(StrEnum):
    """What the provider's receipts say about the message."""

    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    UNKNOWN = "unknown"


class EventType(StrEnum):
    """The `type` of a lifecycle event, without its `verification.` prefix."""

    PENDING = "pending"
    APPROVED = "approved"
    CANCELED = "canceled"
    EXPIRED = "expired"
    MAX_ATTEMPTS_REACHED = "max_attempts_reached"
    DELIVERY_FAILED = "delivery_failed"
    SUPERSEDED = "superseded"
    DELIVERED = "delivered"

    @property
    def qualified(self) -> str:
        """The type as published, e.g. `verification.approved`."""
        return f"{EVENT_TYPE_PREFIX}{self.value}"


def new_verification_id() -> str:
    """An opaque, unguessable id from the OS CSPRNG: `vf_` and 32 base32 characters."""
    return (
        VERIFICATION_ID_PREFIX + base64.b32encode(secrets.token_bytes(_ID_BYTES)).decode().lower()
    )


def is_verification_id(text: str) -> bool:
    """Whether `text` has the shape of a verification id (it may still name nothing)."""
    return _ID_PATTERN.fullmatch(text) is not None


def rfc3339(epoch_seconds: int) -> str:
    """`2026-11-24T10:20:25Z`: UTC, whole seconds."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class VerificationState:
    """One verification as the user's item records it."""

    verification_id: str
    user_id: str
    channel: str
    destination: str
    """Masked, as the contract shows it."""
    created_at: int
    expires_at: int
    outcome: Status | None = None
    """The terminal status a write recorded (approved, canceled, ...); None while none has."""
    outcome_at: int | None = None
    test: bool = False

    def status(self, now: int) -> Status:
        """The status at `now`, decided from the expiry time, never from TTL deletion.

        An outcome recorded at or after the expiry (a cancel of a stale code, say) found the
        verification already expired.
        """
        if self.outcome is not None and self.outcome_at is not None:
            if self.outcome_at >= self.expires_at and self.outcome != Status.DELIVERY_FAILED:
                return Status.EXPIRED
            return self.outcome
        return Status.EXPIRED if now >= self.expires_at else Status.PENDING


@dataclass(frozen=True)
class Transition:
    """One status change of one verification (or a delivery receipt), decoded from the stream."""

    verification: VerificationState
    type: EventType
    occurred_at: int
    receipt: bool = False
    """A delivery receipt: it changes `delivery`, never the status."""

    @property
    def event_id(self) -> str:
        """Stable per verification and type, so a replayed stream record repeats the same id."""
        digest = hashlib.sha256(f"{self.verification.verification_id}:{self.type}".encode())
        return "ev_" + base64.b32encode(digest.digest()[:20]).decode().lower()

    def event(self) -> dict[str, Any]:
        """The event as published: no code, no unmasked destination."""
        event: dict[str, Any] = {
            "event_id": self.event_id,
            "type": self.type.qualified,
            "verification_id": self.verification.verification_id,
            "user_id": self.verification.user_id,
            "channel": self.verification.channel,
            "destination": self.verification.destination,
            "occurred_at": rfc3339(self.occurred_at),
        }
        if self.verification.test:
            event["test"] = True
        return event


def state_of(image: dict[str, Any] | None) -> VerificationState | None:
    """The verification an item image (DynamoDB JSON) records, if it records one."""
    if not image or VERIFICATION_ID not in image:
        return None
    outcome, outcome_at = _recorded_outcome(image)
    return VerificationState(
        verification_id=image[VERIFICATION_ID]["S"],
        user_id=image[USER_ID]["S"] if USER_ID in image else user_of(image[PARTITION_KEY]["S"]),
        channel=image.get(CHANNEL, {}).get("S", "unknown"),
        destination=image.get(MASKED_DESTINATION, {}).get("S", ""),
        created_at=int(image[CREATED_AT]["N"]),
        expires_at=int(image[EXPIRES_AT]["N"]),
        outcome=outcome,
        outcome_at=outcome_at,
        test=bool(image.get(TEST, {}).get("BOOL", False)),
    )


def _recorded_outcome(image: dict[str, Any]) -> tuple[Status | None, int | None]:
    """The first outcome the item records: one a write stored, or one its attempts show."""
    stored = image.get(OUTCOME, {}).get("S")
    candidates = []
    if stored:
        at = int(image[OUTCOME_AT]["N"]) if OUTCOME_AT in image else 0
        candidates.append((at, 0, Status(stored)))
    attempted = _attempted_outcome(image)
    if attempted is not None:
        # A cancel and a verify in the same second: never say approved when verify may have
        # seen the cancel and refused.
        candidates.append((attempted[1], 1, attempted[0]))
    if not candidates:
        return None, None
    at, _, status = min(candidates)
    return status, at


def _attempted_outcome(image: dict[str, Any]) -> tuple[Status, int] | None:
    """What verify's attempts decided: the code used, or its failures at the limit."""
    entries = entries_of(image)
    limit = int(image[MAX_ATTEMPTS]["N"]) if MAX_ATTEMPTS in image else None
    used = used_index(entries, code_mac_of(image), limit)
    if used is not None:
        return Status.APPROVED, entries[used].at  # or expired, if used after `expires_at`
    if limit is not None and len(entries) >= limit:
        return Status.MAX_ATTEMPTS_REACHED, entries[limit - 1].at
    return None


def transitions(
    old_image: dict[str, Any] | None, new_image: dict[str, Any] | None
) -> list[Transition]:
    """The status changes one write to a user's item made, oldest first.

    - a new verification id: the previous one, if it had no outcome, was superseded (or had
      expired before the new request), and the new one is pending;
    - an outcome appearing on the same verification: that outcome (or expired, see
      `VerificationState.status`);
    - the item deleted (TTL): a verification without an outcome expired.
    Expiry alone writes nothing, so an expiry is published with the next of these writes,
    stamped with the exact expiry time.
    """
    old, new = state_of(old_image), state_of(new_image)
    found: list[Transition] = []
    replaced = old is not None and (new is None or new.verification_id != old.verification_id)
    if old is not None and replaced and old.outcome is None:
        ended = new.created_at if new is not None else old.expires_at
        status = old.status(ended)
        if status == Status.PENDING:
            status = Status.SUPERSEDED
        found.append(_ended(old, status, ended))
    if new is None:
        return found
    if old is None or replaced:
        found.append(Transition(new, EventType.PENDING, new.created_at))
        if new.outcome is not None:
            found.append(_ended(new, new.status(new.created_at), new.created_at))
    elif old.outcome is None and new.outcome is not None:
        found.append(_ended(new, new.status(new.outcome_at or new.created_at), new.created_at))
    return found


def receipts(
    old_image: dict[str, Any] | None, new_image: dict[str, Any] | None
) -> list[Transition]:
    """The delivery receipt one write to a verification record brought, if it brought one."""
    new = state_of(new_image)
    if new is None or new_image is None:
        return []
    before = (old_image or {}).get(DELIVERY, {}).get("S", Delivery.SENT.value)
    after = new_image.get(DELIVERY, {}).get("S", Delivery.SENT.value)
    if before == after or before != Delivery.SENT.value:
        return []
    at = int(new_image[DELIVERY_AT]["N"]) if DELIVERY_AT in new_image else new.created_at
    if after == Delivery.DELIVERED.value:
        return [Transition(new, EventType.DELIVERED, at, receipt=True)]
    if after == Delivery.FAILED.value:
        return [Transition(new, EventType.DELIVERY_FAILED, at, receipt=True)]
    return []


def _ended(state: VerificationState, status: Status, fallback: int) -> Transition:
    at = state.expires_at if status == Status.EXPIRED else (state.outcome_at or fallback)
    return Transition(state, EventType(status.value), at)
