"""The DynamoDB table's key schema, item keys and shared attributes; the Pulumi component uses it.

The attributes here are the ones more than one function reads or writes: verify and cancel
write a verification's outcome without the events function's decoding (`lifecycle.py`).
"""

from enum import StrEnum

PARTITION_KEY = "pk"
"""The table's only key attribute (a String); items are told apart by a prefix."""

TTL_ATTRIBUTE = "expires_at"
"""Epoch-seconds Number after which DynamoDB may delete the item (it may lag by days)."""

# The user item's verification attributes (see `lifecycle.VerificationState`).
VERIFICATION_ID = "verification_id"
CREATED_AT = "verification_created_at"
EXPIRES_AT = "verification_expires_at"
MASKED_DESTINATION = "masked_destination"
OUTCOME = "verification_outcome"
OUTCOME_AT = "verification_outcome_at"
TEST = "test_destination"
CHANNEL = "channel"
USER_ID = "user_id"
# The verification record's own attributes (besides the ones above).
STATUS = "status"
STATUS_AT = "status_at"
DELIVERY = "delivery"
DELIVERY_AT = "delivery_at"


class Status(StrEnum):
    """The contract's verification statuses."""

    PENDING = "pending"
    APPROVED = "approved"
    CANCELED = "canceled"
    EXPIRED = "expired"
    MAX_ATTEMPTS_REACHED = "max_attempts_reached"
    DELIVERY_FAILED = "delivery_failed"
    SUPERSEDED = "superseded"


PREFIX_ATTRIBUTE = "fraud_prefix"
"""On a user's item: the finest prefix of the number its pending code went to (not the number)."""
HANDSET_ATTRIBUTE = "fraud_handset"
"""On a user's item: the MAC of the number its pending SMS code went to (never the number)."""


def user_key(user_id: str) -> str:
    """The item holding a user's pending code, cooldown and failed attempts."""
    return f"user#{user_id}"


def user_of(key: str) -> str:
    """The user id a user item's key names."""
    return key.removeprefix("user#")


def verification_key(verification_id: str) -> str:
    """The record of one verification, kept for `verificationRetentionDays`."""
    return f"verification#{verification_id}"


def user_sends_key(user_id: str, window: int) -> str:
    """The counter of sends to one user within one send window."""
    return f"sends#user#{window}#{user_id}"


def destination_sends_key(destination_mac: str, window: int) -> str:
    """The counter of sends to one destination (named by its MAC, never in clear) in one window."""
    return f"sends#dest#{window}#{destination_mac}"


def idempotency_key(key_digest: str) -> str:
    """The record of the first answer given for an `Idempotency-Key`."""
    return f"idem#{key_digest}"


def handset_key(handset_mac: str) -> str:
    """Fraud Guard's mark that a user verified a code on a number: spared range blocks, for them."""
    return f"fraud#handset#{handset_mac}"


def message_key(message_id: str) -> str:
    """Where an SMS's provider message id meets its verification and its receipt."""
    return f"message#{message_id}"
