"""The DynamoDB side of the service: pending codes, send counters and idempotency records.

Every decision that must hold under concurrency is a condition DynamoDB evaluates atomically,
and every condition checks expiry itself, because TTL deletion lags by up to two days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .attempts import (
    ATTEMPTS,
    CODE_MAC,
    MADE_AT,
    MAX_ATTEMPTS,
    Entry,
    code_mac_of,
    entries_of,
    entry_value,
)
from .errors import (
    DependencyUnavailable,
    DestinationBlocked,
    IdempotencyKeyTaken,
    RateLimited,
    error_code,
)
from .table import (
    CHANNEL,
    CREATED_AT,
    EXPIRES_AT,
    HANDSET_ATTRIBUTE,
    MASKED_DESTINATION,
    OUTCOME,
    OUTCOME_AT,
    PARTITION_KEY,
    PREFIX_ATTRIBUTE,
    TEST,
    TTL_ATTRIBUTE,
    USER_ID,
    VERIFICATION_ID,
    Status,
    destination_sends_key,
    handset_key,
    idempotency_key,
    user_key,
    user_sends_key,
    verification_key,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        PutTypeDef,
        TransactWriteItemTypeDef,
        UpdateTypeDef,
    )

    from .fraud_store import SendGuard
    from .settings import Policy

IDEMPOTENCY_TTL_SECONDS = 600
"""How long an `Idempotency-Key` keeps its first answer (the contract's 10 minutes)."""

_CODE_FIELDS = f"{CODE_MAC}, code_expires_at"
# The first outcome a verification gets is its last: a later write never overwrites it.
_END_ONCE = (
    f"{OUTCOME} = if_not_exists({OUTCOME}, :outcome), "
    f"{OUTCOME_AT} = if_not_exists({OUTCOME_AT}, :now)"
)
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
    max_verify_attempts: int

    @classmethod
    def of(cls, policy: Policy, now: int) -> SendLimits:
        """The limits the policy sets, at `now`."""
        return cls(
            now=now,
            code_ttl_seconds=policy.code_ttl_seconds,
            resend_cooldown_seconds=policy.resend_cooldown_seconds,
            max_sends_per_window=policy.max_sends_per_window,
            send_window_seconds=policy.send_window_seconds,
            max_verify_attempts=policy.max_verify_attempts,
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
    def attempt_room(self) -> int:
        """The attempts one code records: the failures that kill it, the one that may use it,
        and as many again, so that a user's own attempts in an earlier window leave a full
        window's count for later guesses (as for a user who never had a code)."""
        return 2 * self.max_verify_attempts + 1

    @property
    def window_start(self) -> int:
        """When the current send window opened; failed attempts are counted in the same ones."""
        return self.window * self.send_window_seconds

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
    handset_macs: tuple[str, ...]
    """This user's use of this destination under every live key, the current key's first:
    the name Fraud Guard remembers once a code to it verifies (a proven handset)."""
    verification_id: str
    masked_destination: str
    """The destination as the contract shows it; the full one is never stored."""
    retention_seconds: int
    """How long the verification's record answers `GET /verifications/{id}`."""
    test: bool = False
    """A test destination: its events say `"test": true`."""
    fraud_prefix: str | None = None
    """The finest prefix of an SMS destination (not the number), which Fraud Guard counts."""
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
    """False when the item already held every entry a code allows: nothing was written."""
    earlier: tuple[Entry, ...]
    """The attempts recorded before this one, since the user's latest code."""
    code_mac: bytes | None
    """The latest code's MAC, or None when the user has none."""
    code_expires_at: int
    ended: bool
    """The latest code's verification already has an outcome (a cancel): no guess can win."""
    channel: str


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _int(item: Mapping[str, Any], name: str, default: int = 0) -> int:
    return int(item[name]["N"]) if name in item else default


def lockout_over(entries: tuple[Entry, ...], limits: SendLimits) -> int:
    """When request-token accepts a new code again as far as the attempts go: the cooldown
    after the `max_verify_attempts`-th entry. That is never later than a lockout's answer (the
    cooldown after the window's `max_verify_attempts`-th failure), and the same time when the
    window holds every entry and none used the code."""
    if len(entries) < limits.max_verify_attempts:
        return limits.now
    return entries[limits.max_verify_attempts - 1].at + limits.resend_cooldown_seconds


def _attempt(old: Mapping[str, Any], *, counted: bool) -> Attempt:
    return Attempt(
        counted=counted,
        earlier=entries_of(old),
        code_mac=code_mac_of(old),
        code_expires_at=_int(old, "code_expires_at"),
        ended=OUTCOME in old,
        channel=str(old.get("channel", {}).get("S", "unknown")),
    )


class OtpStore:
    """Reads and writes the service's table through a DynamoDB client."""

    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._db = dynamodb
        self._table = table_name

    @property
    def client(self) -> Any:
        """The DynamoDB client, for readers of the same table."""
        return self._db

    def save_pending_code(
        self,
        code: PendingCode,
        limits: SendLimits,
        record: IdempotencyRecord | None,
        guard: SendGuard | None = None,
    ) -> None:
        """Store `code` as the user's pending code, in one transaction with its send counters.

        Raises `RateLimited` within the cooldown or past a send limit, `IdempotencyKeyTaken`
        when `record`'s key already has a live record, and `DestinationBlocked` when `guard`
        finds the destination's prefix blocked or a send budget spent.
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
        items["verification"] = {"Put": self._verification_put(code, limits)}
        if guard is not None:
            items.update(guard.items(self._table))
        try:
            self._db.transact_write_items(TransactItems=list(items.values()))
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            self._explain_cancellation(error, list(items), limits)

    def release_send(
        self,
        code: PendingCode,
        limits: SendLimits,
        key_digest: str | None,
        guard: SendGuard | None = None,
    ) -> None:
        """Undo a send the provider refused: burn the code, uncount the send, drop the record.

        One transaction when nothing raced the send. If a cancel or a lockout burned the code
        meanwhile (or anything else makes a condition fail), each part is undone on its own, so
        the cooldown, both counters and the `Idempotency-Key` record never outlive the refusal.
        """
        parts = self._release_parts(code, limits, key_digest)
        if guard is not None:
            parts.extend(guard.refunds(self._table))
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
        # lockout still leaves our cooldown and attempts, which must go with the undelivered send.
        parts: list[TransactWriteItemTypeDef] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {PARTITION_KEY: _s(user_key(code.user_id))},
                    "UpdateExpression": (
                        f"REMOVE {_CODE_FIELDS}, cooldown_until, {ATTEMPTS} SET {_END_ONCE}"
                    ),
                    "ConditionExpression": "attribute_not_exists(code_mac) OR code_mac = :mac",
                    "ExpressionAttributeValues": {
                        ":mac": {"B": code.code_mac},
                        ":outcome": _s(Status.DELIVERY_FAILED),
                        ":now": _n(limits.now),
                    },
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

    def is_proven_handset(self, handset_macs: tuple[str, ...], now: int) -> bool:
        """Whether a code this user had sent to this destination verified within Fraud Guard's
        memory.

        Read only when a range block refused a send, so no other request pays for it.
        """
        for mac in handset_macs:
            item = self._db.get_item(
                TableName=self._table, Key={PARTITION_KEY: _s(handset_key(mac))}
            ).get("Item")
            # DynamoDB deletes expired items a while after they expire: the time decides.
            if item is not None and _int(item, TTL_ATTRIBUTE) > now:
                return True
        return False

    def attempt(self, user_id: str, guesses: list[bytes], limits: SendLimits) -> Attempt:
        """Record one verification attempt, in one conditional write, and return the item as it
        was before it (`ALL_OLD`): the earlier entries say whether this guess can still win.

        Past the entries a code records (`SendLimits.attempt_room`), the condition refuses the
        write and DynamoDB returns the item anyway (`ReturnValuesOnConditionCheckFailure`), so
        every outcome, for a known user or an unknown one, is this one request.
        """
        try:
            answer = self._db.update_item(
                TableName=self._table,
                Key={PARTITION_KEY: _s(user_key(user_id))},
                UpdateExpression=(
                    f"SET {ATTEMPTS} = list_append(if_not_exists({ATTEMPTS}, :none), :entry), "
                    f"{TTL_ATTRIBUTE} = :horizon"
                ),
                ConditionExpression=f"attribute_not_exists({ATTEMPTS}) OR size({ATTEMPTS}) < :room",
                ExpressionAttributeValues={
                    ":none": {"L": []},
                    ":entry": {"L": [entry_value(limits.now, guesses)]},
                    ":horizon": _n(limits.horizon),
                    ":room": _n(limits.attempt_room),
                },
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            return _attempt(error.response.get("Item", {}), counted=False)
        return _attempt(answer.get("Attributes", {}), counted=True)

    def cancel(self, user_id: str, now: int) -> None:
        """End the user's latest verification, if it has not ended: its code is never accepted.

        The code's MAC stays until the next code replaces it, so the attempts still say which
        of them, if any, used it (see `attempts.py`).
        """
        try:
            self._db.update_item(
                TableName=self._table,
                Key={PARTITION_KEY: _s(user_key(user_id))},
                UpdateExpression=f"SET {_END_ONCE}",
                ConditionExpression=(
                    f"attribute_exists({CODE_MAC}) AND attribute_not_exists({OUTCOME})"
                ),
                ExpressionAttributeValues={
                    ":outcome": _s(Status.CANCELED),
                    ":now": _n(now),
                },
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise

    def _new_code_update(self, code: PendingCode, limits: SendLimits) -> UpdateTypeDef:
        # An email code must not inherit the prefix of an earlier SMS code.
        prefix: dict[str, AttributeValueTypeDef] = {}
        prefix_set, prefix_remove = "", f", {PREFIX_ATTRIBUTE}, {HANDSET_ATTRIBUTE}"
        if code.fraud_prefix is not None:
            # The handset's MAC lets the events function remember it once the code verifies.
            prefix = {":prefix": {"S": code.fraud_prefix}, ":handset": {"S": code.handset_macs[0]}}
            prefix_set = f", {PREFIX_ATTRIBUTE} = :prefix, {HANDSET_ATTRIBUTE} = :handset"
            prefix_remove = ""
        lockout = f"{ATTEMPTS}[{limits.max_verify_attempts - 1}]"
        return {
            "TableName": self._table,
            "Key": {PARTITION_KEY: _s(user_key(code.user_id))},
            # A new code starts a fresh list of attempts.
            "UpdateExpression": (
                f"SET {CODE_MAC} = :mac, code_expires_at = :expires, "
                f"cooldown_until = :cooldown, channel = :channel, {MAX_ATTEMPTS} = :max, "
                f"{TTL_ATTRIBUTE} = :horizon, "
                f"{VERIFICATION_ID} = :verification, {CREATED_AT} = :now, "
                f"{EXPIRES_AT} = :expires, {MASKED_DESTINATION} = :masked, "
                f"{TEST} = :test{prefix_set} "
                f"REMOVE {ATTEMPTS}, {OUTCOME}, {OUTCOME_AT}{prefix_remove}"
            ),
            # The cooldown, and a lockout's: no new code until `resend_cooldown_seconds` after
            # the `max_verify_attempts`-th attempt (the time the lockout's answer gave).
            "ConditionExpression": (
                "(attribute_not_exists(cooldown_until) OR cooldown_until <= :now) AND "
                f"(attribute_not_exists({lockout}) OR {lockout}.{MADE_AT} <= :lockout_over)"
            ),
            "ExpressionAttributeValues": {
                ":mac": {"B": code.code_mac},
                ":expires": _n(limits.now + limits.code_ttl_seconds),
                ":cooldown": _n(limits.now + limits.resend_cooldown_seconds),
                ":channel": _s(code.channel),
                ":max": _n(limits.max_verify_attempts),
                ":lockout_over": _n(limits.now - limits.resend_cooldown_seconds),
                ":horizon": _n(limits.horizon),
                ":now": _n(limits.now),
                ":verification": _s(code.verification_id),
                ":masked": _s(code.masked_destination),
                ":test": {"BOOL": code.test},
                **prefix,
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def _verification_put(self, code: PendingCode, limits: SendLimits) -> PutTypeDef:
        """The verification's record: what `GET /verifications/{id}` reads after it has ended."""
        return {
            "TableName": self._table,
            "Item": {
                PARTITION_KEY: _s(verification_key(code.verification_id)),
                VERIFICATION_ID: _s(code.verification_id),
                USER_ID: _s(code.user_id),
                CHANNEL: _s(code.channel),
                MASKED_DESTINATION: _s(code.masked_destination),
                CREATED_AT: _n(limits.now),
                EXPIRES_AT: _n(limits.now + limits.code_ttl_seconds),
                TEST: {"BOOL": code.test},
                TTL_ATTRIBUTE: _n(limits.now + code.retention_seconds),
            },
            "ConditionExpression": f"attribute_not_exists({PARTITION_KEY})",
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
        if any(name.startswith("fraud_") for name in refused):
            spent = any(name.startswith("fraud_budget_") for name in refused)
            raise DestinationBlocked(budget_spent=spent) from None
        if "idempotency" in refused:
            raise IdempotencyKeyTaken from None
        waits = [1]
        if "code" in refused:
            item = reasons["code"].get("Item") or {}
            waits.append(_int(item, "cooldown_until") - limits.now)
            waits.append(lockout_over(entries_of(item), limits) - limits.now)
        if any("_sends" in name for name in refused):
            waits.append(limits.window_end - limits.now)
        if waits == [1] and "TransactionConflict" not in codes.values():
            raise error
        raise RateLimited(max(waits)) from None
