"""The DynamoDB side of the service: pending codes, send counters and idempotency records.

Every decision that must hold under concurrency is a condition DynamoDB evaluates atomically,
and every condition checks expiry itself, because TTL deletion lags by up to two days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .errors import DependencyUnavailable, IdempotencyKeyTaken, RateLimited, error_code
from .settings import Policy
from .table import (
    PARTITION_KEY,
    TTL_ATTRIBUTE,
    destination_sends_key,
    idempotency_key,
    user_key,
    user_sends_key,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import PutTypeDef, TransactWriteItemTypeDef, UpdateTypeDef

IDEMPOTENCY_TTL_SECONDS = 600
"""How long an `Idempotency-Key` keeps its first answer (the contract's 10 minutes)."""

_CODE_FIELDS = "code_macs, code_expires_at"
_THROTTLED_REASONS = frozenset(
    {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)


@dataclass(frozen=True)
class SendLimits:
    """The policy numbers a send is checked against, and when now is."""

    now: int
    code_ttl_seconds: int
    resend_cooldown_seconds: int
    max_sends_per_window: int
    send_window_seconds: int

    @classmethod
    def of(cls, policy: Policy, now: int) -> SendLimits:
        """The limits the policy sets, at `now`."""
        return cls(
            now=now,
            code_ttl_seconds=policy.code_ttl_seconds,
            resend_cooldown_seconds=policy.resend_cooldown_seconds,
            max_sends_per_window=policy.max_sends_per_window,
            send_window_seconds=policy.send_window_seconds,
        )

    @property
    def window(self) -> int:
        """The index of the fixed send window that holds `now`."""
        return self.now // self.send_window_seconds

    @property
    def window_end(self) -> int:
        """When the current send window closes."""
        return (self.window + 1) * self.send_window_seconds

    @property
    def horizon(self) -> int:
        """A TTL late enough for every piece of state written now."""
        return self.now + max(
            self.code_ttl_seconds, self.resend_cooldown_seconds, self.send_window_seconds
        )


@dataclass(frozen=True)
class PendingCode:
    """A code about to be sent, as stored: only its MAC, never the code."""

    user_id: str
    channel: str
    code_mac: bytes
    destination_mac: str
    retired_destination_macs: tuple[str, ...] = ()
    """The destination's names under retired keys still live: its sends count there too, so a
    key rotation does not reset its limit."""

    def destination_macs(self) -> tuple[str, ...]:
        """Every name the destination's send counters go by, the current key's first."""
        return (self.destination_mac, *self.retired_destination_macs)


@dataclass(frozen=True)
class IdempotencyRecord:
    """The first answer to a request made with an `Idempotency-Key`."""

    key_digest: str
    fingerprint: str
    answer: str


@dataclass(frozen=True)
class Attempt:
    """One verification attempt, as the single write that made it found the user's item."""

    counted: bool
    """False when the pending code's attempts were already used up: nothing was written."""
    attempted_at: tuple[int, ...]
    """When each attempt since the user's last code was made, this one included if counted."""
    code_macs: frozenset[bytes]
    """The pending code's MACs before this attempt; empty when no code was pending."""
    code_expires_at: int
    channel: str
    code_used: bool = False
    """The code was matched earlier (verify removes its MACs, leaves its expiry): accepted, or
    entered after it expired; either way by someone who knew it, so not counted as a failure."""


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _int(item: Mapping[str, Any], name: str, default: int = 0) -> int:
    return int(item[name]["N"]) if name in item else default


def _attempt(old: Mapping[str, Any], counted_at: int | None) -> Attempt:
    """The attempt as the old item shows it; `counted_at` is None when nothing was written."""
    attempted_at = tuple(int(entry["N"]) for entry in old.get("attempts", {}).get("L", []))
    return Attempt(
        counted=counted_at is not None,
        attempted_at=attempted_at if counted_at is None else (*attempted_at, counted_at),
        code_macs=frozenset(bytes(mac) for mac in old.get("code_macs", {}).get("BS", [])),
        code_expires_at=_int(old, "code_expires_at"),
        channel=str(old.get("channel", {}).get("S", "unknown")),
        code_used="code_expires_at" in old and "code_macs" not in old,
    )


class OtpStore:
    """Reads and writes the service's table through a DynamoDB client."""

    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._db = dynamodb
        self._table = table_name

    def save_pending_code(
        self, code: PendingCode, limits: SendLimits, record: IdempotencyRecord | None
    ) -> None:
        """Store `code` as the user's pending code, in one transaction with its send counters.

        Raises `RateLimited` within the cooldown or past a send limit, and `IdempotencyKeyTaken`
        when `record`'s key already has a live record.
        """
        # Named, so that a cancellation reason is read by what it refused, not by position.
        items: dict[str, TransactWriteItemTypeDef] = {
            "code": {"Update": self._new_code_update(code, limits)},
            "user_sends": {
                "Update": self._count_send(user_sends_key(code.user_id, limits.window), limits)
            },
        }
        for n, destination_mac in enumerate(code.destination_macs()):
            counter = destination_sends_key(destination_mac, limits.window)
            items[f"destination_sends_{n}"] = {"Update": self._count_send(counter, limits)}
        if record is not None:
            items["idempotency"] = {"Put": self._idempotency_put(record, limits.now)}
        try:
            self._db.transact_write_items(TransactItems=list(items.values()))
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            self._explain_cancellation(error, list(items), limits)

    def release_send(self, code: PendingCode, limits: SendLimits, key_digest: str | None) -> None:
        """Undo a send the provider refused: burn the code, uncount the send, drop the record.

        One transaction when nothing raced the send. If a cancel or a lockout burned the code
        meanwhile (or anything else makes a condition fail), each part is undone on its own, so
        the cooldown, both counters and the `Idempotency-Key` record never outlive the refusal.
        """
        parts = self._release_parts(code, limits, key_digest)
        try:
            self._db.transact_write_items(TransactItems=parts)
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            failures = []
            for part in parts:
                try:
                    self._write_alone(part)
                except ClientError as failure:
                    failures.append(failure)
            if failures:
                raise failures[0] from None

    def _release_parts(
        self, code: PendingCode, limits: SendLimits, key_digest: str | None
    ) -> list[TransactWriteItemTypeDef]:
        # The user item is ours unless a newer code replaced it: a code burned by a cancel or a
        # lockout still leaves our cooldown, which must go with the undelivered send.
        parts: list[TransactWriteItemTypeDef] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {PARTITION_KEY: _s(user_key(code.user_id))},
                    "UpdateExpression": f"REMOVE {_CODE_FIELDS}, cooldown_until",
                    "ConditionExpression": (
                        "attribute_not_exists(code_macs) OR contains(code_macs, :mac)"
                    ),
                    "ExpressionAttributeValues": {":mac": {"B": code.code_mac}},
                }
            },
        ]
        for counter in (
            user_sends_key(code.user_id, limits.window),
            *(destination_sends_key(mac, limits.window) for mac in code.destination_macs()),
        ):
            parts.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {PARTITION_KEY: _s(counter)},
                        "UpdateExpression": "ADD sends :minus_one",
                        "ConditionExpression": "sends > :zero",
                        "ExpressionAttributeValues": {":minus_one": _n(-1), ":zero": _n(0)},
                    }
                }
            )
        if key_digest is not None:
            parts.append(
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": {PARTITION_KEY: _s(idempotency_key(key_digest))},
                    }
                }
            )
        return parts

    def _write_alone(self, part: TransactWriteItemTypeDef) -> None:
        """One part of a cancelled transaction as its own write; a failed condition skips it."""
        try:
            if "Update" in part:
                self._db.update_item(**part["Update"])
            else:
                self._db.delete_item(**part["Delete"])
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise

    def idempotent_answer(self, key_digest: str, now: int) -> IdempotencyRecord | None:
        """The live record for an `Idempotency-Key`, if there is one."""
        item = self._db.get_item(
            TableName=self._table,
            Key={PARTITION_KEY: _s(idempotency_key(key_digest))},
            ConsistentRead=True,
        ).get("Item")
        if item is None or _int(item, TTL_ATTRIBUTE) <= now:
            return None
        return IdempotencyRecord(key_digest, item["fingerprint"]["S"], item["answer"]["S"])

    def attempt(
        self, user_id: str, guesses: list[bytes], limits: SendLimits, max_attempts: int
    ) -> Attempt:
        """Record one verification attempt and burn the guess, in one conditional write.

        The write appends the time to the user's attempts and DELETEs the guess's MACs from the
        pending code's set, returning the item as it was (`ALL_OLD`): the guess was right exactly
        when the old set held it, and of racing verifies only one can see that. Once
        `max_attempts` are recorded since the last code, the condition refuses the write and
        DynamoDB returns the item anyway (`ReturnValuesOnConditionCheckFailure`), so every
        outcome, for a known user or an unknown one, is this one request.
        """
        try:
            answer = self._db.update_item(
                TableName=self._table,
                Key={PARTITION_KEY: _s(user_key(user_id))},
                UpdateExpression=(
                    "SET attempts = list_append(if_not_exists(attempts, :none), :now), "
                    f"{TTL_ATTRIBUTE} = :horizon DELETE code_macs :guesses"
                ),
                ConditionExpression="attribute_not_exists(attempts) OR size(attempts) < :max",
                ExpressionAttributeValues={
                    ":none": {"L": []},
                    ":now": {"L": [_n(limits.now)]},
                    ":horizon": _n(limits.horizon),
                    ":guesses": {"BS": guesses},
                    ":max": _n(max_attempts),
                },
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            return _attempt(error.response.get("Item", {}), None)
        return _attempt(answer.get("Attributes", {}), limits.now)

    def cancel(self, user_id: str) -> None:
        """Burn the user's pending code, if any."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key={PARTITION_KEY: _s(user_key(user_id))},
                UpdateExpression=f"REMOVE {_CODE_FIELDS}",
                ConditionExpression="attribute_exists(code_macs)",
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise

    def _new_code_update(self, code: PendingCode, limits: SendLimits) -> UpdateTypeDef:
        return {
            "TableName": self._table,
            "Key": {PARTITION_KEY: _s(user_key(code.user_id))},
            # A new code starts a fresh count of attempts.
            "UpdateExpression": (
                "SET code_macs = :macs, code_expires_at = :expires, cooldown_until = :cooldown, "
                f"channel = :channel, {TTL_ATTRIBUTE} = :horizon REMOVE attempts"
            ),
            "ConditionExpression": (
                "attribute_not_exists(cooldown_until) OR cooldown_until <= :now"
            ),
            "ExpressionAttributeValues": {
                ":macs": {"BS": [code.code_mac]},
                ":expires": _n(limits.now + limits.code_ttl_seconds),
                ":cooldown": _n(limits.now + limits.resend_cooldown_seconds),
                ":channel": _s(code.channel),
                ":horizon": _n(limits.horizon),
                ":now": _n(limits.now),
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def _count_send(self, counter_key: str, limits: SendLimits) -> UpdateTypeDef:
        return {
            "TableName": self._table,
            "Key": {PARTITION_KEY: _s(counter_key)},
            "UpdateExpression": f"ADD sends :one SET {TTL_ATTRIBUTE} = :window_end",
            "ConditionExpression": "attribute_not_exists(sends) OR sends < :max",
            "ExpressionAttributeValues": {
                ":one": _n(1),
                ":max": _n(limits.max_sends_per_window),
                ":window_end": _n(limits.window_end),
            },
        }

    def _idempotency_put(self, record: IdempotencyRecord, now: int) -> PutTypeDef:
        return {
            "TableName": self._table,
            "Item": {
                PARTITION_KEY: _s(idempotency_key(record.key_digest)),
                "fingerprint": _s(record.fingerprint),
                "answer": _s(record.answer),
                TTL_ATTRIBUTE: _n(now + IDEMPOTENCY_TTL_SECONDS),
            },
            "ConditionExpression": (
                f"attribute_not_exists({PARTITION_KEY}) OR {TTL_ATTRIBUTE} <= :now"
            ),
            "ExpressionAttributeValues": {":now": _n(now)},
        }

    def _explain_cancellation(
        self, error: ClientError, names: list[str], limits: SendLimits
    ) -> None:
        """Turn a cancelled request transaction into the refusal it means.

        DynamoDB lists one reason per item, in the order the items were sent (`names`).
        """
        listed = error.response.get("CancellationReasons", [])
        if len(listed) != len(names):
            raise error
        reasons = dict(zip(names, listed, strict=True))
        codes = {name: reason.get("Code", "None") for name, reason in reasons.items()}
        if _THROTTLED_REASONS.intersection(codes.values()):
            raise DependencyUnavailable from None
        refused = {name for name, code in codes.items() if code == "ConditionalCheckFailed"}
        if "idempotency" in refused:
            raise IdempotencyKeyTaken from None
        waits = [1]
        if "code" in refused:
            item = reasons["code"].get("Item") or {}
            waits.append(_int(item, "cooldown_until") - limits.now)
        if any("sends" in name for name in refused):
            waits.append(limits.window_end - limits.now)
        if waits == [1] and "TransactionConflict" not in codes.values():
            raise error
        raise RateLimited(max(waits)) from None
