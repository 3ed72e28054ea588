"""The DynamoDB table's key schema and item keys, shared with the Pulumi component."""

PARTITION_KEY = "pk"
"""The table's only key attribute (a String); items are told apart by a prefix."""

TTL_ATTRIBUTE = "expires_at"
"""Epoch-seconds Number after which DynamoDB may delete the item (it may lag by days)."""


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


def message_key(message_id: str) -> str:
    """Where an SMS's provider message id meets its verification and its receipt."""
    return f"message#{message_id}"
