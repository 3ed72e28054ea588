"""Fraud Guard's items in the service table: blocks and budgets the send checks, counters it learns.

The request path only adds items to the transaction it already makes (a `ConditionCheck` per
prefix that is not blocked, an `Update` per budget counter), so a blocked or over-budget send
fails with the rest of that one round trip. Counting and judging happen off the hot path, in
`FraudLedger.apply`, which the table's change stream feeds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .attempts import CODE_MAC
from .errors import error_code
from .fraud import (
    DAY_SECONDS,
    Counts,
    FraudPolicy,
    NumberPrefixes,
    Offences,
    PrefixView,
    block_reason,
    day_of,
    is_surging,
    might_block,
    next_offence,
    prefix_depth,
    window_of,
)
from .lifecycle import EventType, transitions
from .table import (
    HANDSET_ATTRIBUTE,
    PARTITION_KEY,
    PREFIX_ATTRIBUTE,
    TTL_ATTRIBUTE,
    handset_key,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


def prefix_key(prefix: str) -> str:
    """The item holding a prefix's block and history."""
    return f"fraud#prefix#{prefix}"


BLOCKS_KEY = "fraud#blocks"
"""The item naming every blocked prefix (attribute: prefix, value: blocked until).

Operators list blocks from it with one `GetItem`: a `Scan` cannot be confined to `fraud#` items
by `dynamodb:LeadingKeys`, so an operator policy granting it would read every user's item.
"""


def prefix_count_key(day: int, prefix: str) -> str:
    """One prefix's sends and verifications on one UTC day, and in each window of it."""
    return f"fraud#count#{day}#{prefix}"


def country_count_key(day: int, calling_code: str) -> str:
    """One calling code's sends in each Fraud Guard window of one UTC day."""
    return f"fraud#country#{day}#{calling_code}"


def budget_key(day: int, calling_code: str | None) -> str:
    """The counter of SMS sent on one UTC day, to one calling code or (None) in all."""
    return f"fraud#budget#{day}#{calling_code or 'all'}"


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _int(item: dict[str, Any], name: str) -> int:
    return int(item[name]["N"]) if name in item else 0


@dataclass(frozen=True)
class SendGuard:
    """What one SMS must pass: its prefixes unblocked, and every budget it counts against."""

    prefixes: tuple[str, ...]
    """Prefixes whose block refuses the send; none for a safe-listed number."""
    budgets: tuple[tuple[str, int], ...]
    """Budget counters the send adds one to, each with the count it must stay below."""
    now: int
    spares_proven_handsets: bool = False
    """Whether a number that verified a code before passes the prefixes' blocks."""

    @classmethod
    def of(
        cls, where: NumberPrefixes, destination: str, policy: FraudPolicy, now: int
    ) -> SendGuard | None:
        """The checks for one SMS to `destination`, which lies under `where`; None when off."""
        if not policy.enabled:
            return None
        prefixes = () if policy.is_safe(destination) else where.prefixes
        day = day_of(now)
        budgets = [(budget_key(day, None), policy.daily_budget)]
        country = policy.country_budget(where.calling_code)
        if country is not None:
            budgets.append((budget_key(day, where.calling_code), country))
        return cls(prefixes, tuple(budgets), now, policy.handset_memory_seconds > 0)

    def sparing_ranges(self) -> SendGuard | None:
        """The checks for a proven handset (its budgets, no range block); None if none apply."""
        if not (self.prefixes and self.spares_proven_handsets):
            return None
        return replace(self, prefixes=())

    def items(self, table: str) -> dict[str, TransactWriteItemTypeDef]:
        """The request transaction's extra items, named for reading its cancellation reasons."""
        items: dict[str, TransactWriteItemTypeDef] = {}
        for n, prefix in enumerate(self.prefixes):
            items[f"fraud_block_{n}"] = {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": {PARTITION_KEY: {"S": prefix_key(prefix)}},
                    "ConditionExpression": (
                        "attribute_not_exists(blocked_until) OR blocked_until <= :now"
                    ),
                    "ExpressionAttributeValues": {":now": _n(self.now)},
                }
            }
        day_end = (day_of(self.now) + 2) * DAY_SECONDS
        for n, (key, limit) in enumerate(self.budgets):
            items[f"fraud_budget_{n}"] = {
                "Update": {
                    "TableName": table,
                    "Key": {PARTITION_KEY: {"S": key}},
                    "UpdateExpression": f"ADD sends :one SET {TTL_ATTRIBUTE} = :day_end",
                    "ConditionExpression": "attribute_not_exists(sends) OR sends < :max",
                    "ExpressionAttributeValues": {
                        ":one": _n(1),
                        ":max": _n(limit),
                        ":day_end": _n(day_end),
                    },
                }
            }
        return items

    def refunds(self, table: str) -> list[TransactWriteItemTypeDef]:
        """The items that give back the budget of a send that did not happen."""
        return [
            {
                "Update": {
                    "TableName": table,
                    "Key": {PARTITION_KEY: {"S": key}},
                    "UpdateExpression": "ADD sends :minus_one",
                    "ConditionExpression": "sends > :zero",
                    "ExpressionAttributeValues": {":minus_one": _n(-1), ":zero": _n(0)},
                }
            }
            for key, _ in self.budgets
        ]


@dataclass(frozen=True)
class Signal:
    """One thing the lifecycle saw happen to an SMS code: `sent` or `verified`."""

    kind: str
    where: NumberPrefixes
    handset: str | None = None
    """The destination's MAC, on a verification of a code that recorded it."""


@dataclass(frozen=True)
class Block:
    """A prefix the guard has just blocked."""

    prefix: str
    reason: str
    offences: int
    blocked_until: int


class FraudLedger:
    """Counts sends and verifications per prefix and per country, and blocks what pumps."""

    def __init__(self, dynamodb: Any, table_name: str, policy: FraudPolicy) -> None:
        self._db = dynamodb
        self._table = table_name
        self._policy = policy

    def apply(self, signals: list[Signal], now: int) -> list[Block]:
        """Count `signals` in the window that holds `now`; the prefixes that must now be blocked.

        One `UpdateItem` per touched prefix (its day and window counts share an item) and one per
        country; a prefix's history and its country's previous window are read only when the
        counts leave a rule to apply. Counts are added with `ADD`, so a retried stream batch can
        count a record twice: the guard's numbers are at-least-once, like the stream.
        """
        if not self._policy.enabled or not signals:
            return []
        sends: Counter[str] = Counter()
        verified: Counter[str] = Counter()
        countries: Counter[str] = Counter()
        for signal in signals:
            target = sends if signal.kind == "sent" else verified
            target.update(signal.where.prefixes)
            if signal.kind == "sent":
                countries[signal.where.calling_code] += 1
        counts = {
            prefix: self._add(prefix, sends[prefix], verified[prefix], now)
            for prefix in sends.keys() | verified.keys()
        }
        country_windows = {code: self._add_country(code, n, now) for code, n in countries.items()}
        for prefix in {s.where.finest for s in signals if s.kind == "verified"}:
            self._mark_proven(prefix, now)
        for handset in {s.handset for s in signals if s.kind == "verified" and s.handset}:
            self._remember_handset(handset, now)
        judged = {
            prefix: signal.where.calling_code
            for signal in signals
            if signal.kind == "sent"
            for prefix in signal.where.prefixes
        }
        blocks = []
        carried = _Carried()
        # Finest first: a range that carries the batch's pumping is blocked, not its parent.
        for prefix, calling_code in sorted(judged.items(), key=lambda p: -prefix_depth(p[0])):
            window_counts, day_counts = carried.excluded(prefix, *counts[prefix])
            if not might_block(prefix, window_counts, day_counts, self._policy):
                continue
            history, proven = self._history(prefix, now)
            view = PrefixView(prefix, window_counts, history, proven, day_counts)
            surging = self._is_surging(calling_code, country_windows[calling_code], now)
            reason = block_reason(view, surging, now, self._policy)
            if reason is None:
                continue
            carried.add(prefix, sends[prefix])
            if block := self._block(prefix, reason, history, now):
                blocks.append(block)
        return blocks

    def blocks(self, now: int) -> list[tuple[str, Offences]]:
        """Every prefix blocked at `now`, with its history (for operators)."""
        registry = self._db.get_item(
            TableName=self._table, Key={PARTITION_KEY: {"S": BLOCKS_KEY}}, ConsistentRead=True
        ).get("Item", {})
        listed = [
            prefix
            for prefix, until in registry.items()
            if prefix != PARTITION_KEY and int(until["N"]) > now
        ]
        found = []
        for prefix in listed:
            # The prefix's own item is the authority: the registry can lag a lift.
            history, _ = self._history(prefix, now)
            if history.is_blocked(now):
                found.append((prefix, history))
        return sorted(found)

    def lift(self, prefix: str, now: int) -> bool:
        """End a prefix's block now, keeping its history; whether it was blocked."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key={PARTITION_KEY: {"S": prefix_key(prefix)}},
                UpdateExpression="SET blocked_until = :now",
                ConditionExpression="blocked_until > :now",
                ExpressionAttributeValues={":now": _n(now)},
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            return False
        self._db.update_item(
            TableName=self._table,
            Key={PARTITION_KEY: {"S": BLOCKS_KEY}},
            UpdateExpression="REMOVE #prefix",
            ExpressionAttributeNames={"#prefix": prefix},
        )
        return True

    def _add(self, prefix: str, sends: int, verified: int, now: int) -> tuple[Counts, Counts]:
        """Add to a prefix's counts; its counts in the window and in the day that hold `now`."""
        window, day = window_of(now, self._policy), day_of(now)
        item = self._db.update_item(
            TableName=self._table,
            Key={PARTITION_KEY: {"S": prefix_count_key(day, prefix)}},
            UpdateExpression=(
                "ADD sends :sends, verified :verified, #window_sends :sends, "
                f"#window_verified :verified SET {TTL_ATTRIBUTE} = :ttl"
            ),
            ExpressionAttributeNames={
                "#window_sends": f"sends_{window}",
                "#window_verified": f"verified_{window}",
            },
            ExpressionAttributeValues={
                ":sends": _n(sends),
                ":verified": _n(verified),
                ":ttl": _n((day + 2) * DAY_SECONDS),
            },
            ReturnValues="ALL_NEW",
        )["Attributes"]
        in_window = Counts(_int(item, f"sends_{window}"), _int(item, f"verified_{window}"))
        return in_window, Counts(_int(item, "sends"), _int(item, "verified"))

    def _add_country(self, calling_code: str, sends: int, now: int) -> dict[str, Any]:
        """Add to a country's sends in the window of `now`; every window of its day so far."""
        window, day = window_of(now, self._policy), day_of(now)
        return dict(
            self._db.update_item(
                TableName=self._table,
                Key={PARTITION_KEY: {"S": country_count_key(day, calling_code)}},
                UpdateExpression=f"ADD #window_sends :sends SET {TTL_ATTRIBUTE} = :ttl",
                ExpressionAttributeNames={"#window_sends": f"sends_{window}"},
                ExpressionAttributeValues={
                    ":sends": _n(sends),
                    ":ttl": _n((day + 2) * DAY_SECONDS),
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        )

    def _is_surging(self, calling_code: str, today: dict[str, Any], now: int) -> bool:
        """Whether the country's window of `now` is a sudden multiple of the one before."""
        window = window_of(now, self._policy)
        previous = f"sends_{window - 1}"
        current = _int(today, f"sends_{window}")
        if current < self._policy.velocity_min_sends:
            return False
        if day_of((window - 1) * self._policy.window_seconds) != day_of(now):
            # The day's first window: the one before it is on yesterday's item.
            yesterday = country_count_key(day_of(now) - 1, calling_code)
            today = self._db.get_item(
                TableName=self._table, Key={PARTITION_KEY: {"S": yesterday}}
            ).get("Item", {})
        return is_surging(current, _int(today, previous), self._policy)

    def _mark_proven(self, prefix: str, now: int) -> None:
        self._db.update_item(
            TableName=self._table,
            Key={PARTITION_KEY: {"S": prefix_key(prefix)}},
            UpdateExpression=f"SET last_verified_at = :now, {TTL_ATTRIBUTE} = :ttl",
            ExpressionAttributeValues={":now": _n(now), ":ttl": _n(self._history_ttl(now))},
        )

    def _remember_handset(self, handset_mac: str, now: int) -> None:
        """Record that a user's code sent to this number verified: only its owner could have."""
        if not self._policy.handset_memory_seconds:
            return
        self._db.update_item(
            TableName=self._table,
            Key={PARTITION_KEY: {"S": handset_key(handset_mac)}},
            UpdateExpression=f"SET {TTL_ATTRIBUTE} = :ttl",
            ExpressionAttributeValues={":ttl": _n(now + self._policy.handset_memory_seconds)},
        )

    def _history(self, prefix: str, now: int) -> tuple[Offences, bool]:
        item = self._db.get_item(
            TableName=self._table,
            Key={PARTITION_KEY: {"S": prefix_key(prefix)}},
            ConsistentRead=True,
        ).get("Item", {})
        verified_at = _int(item, "last_verified_at")
        proven = verified_at > 0 and now - verified_at < self._policy.offence_memory_seconds
        return _offences(item), proven

    def _block(self, prefix: str, reason: str, history: Offences, now: int) -> Block | None:
        after = next_offence(history, now, self._policy)
        try:
            self._db.update_item(
                TableName=self._table,
                Key={PARTITION_KEY: {"S": prefix_key(prefix)}},
                UpdateExpression=(
                    "SET blocked_until = :until, offences = :count, last_offence_at = :now, "
                    f"reason = :reason, {TTL_ATTRIBUTE} = :ttl"
                ),
                # Two consumers judging at once must not count one offence twice.
                ConditionExpression="attribute_not_exists(blocked_until) OR blocked_until <= :now",
                ExpressionAttributeValues={
                    ":until": _n(after.blocked_until),
                    ":count": _n(after.count),
                    ":now": _n(now),
                    ":reason": {"S": reason},
                    ":ttl": _n(max(after.blocked_until, self._history_ttl(now))),
                },
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            return None
        self._register(prefix, after.blocked_until, now)
        return Block(prefix, reason, after.count, after.blocked_until)

    def _register(self, prefix: str, blocked_until: int, now: int) -> None:
        """Name the block in the registry, dropping lapsed entries so the item stays small."""
        registry = self._db.get_item(
            TableName=self._table, Key={PARTITION_KEY: {"S": BLOCKS_KEY}}, ConsistentRead=True
        ).get("Item", {})
        lapsed = [
            name
            for name, until in registry.items()
            if name not in (PARTITION_KEY, prefix) and int(until["N"]) <= now
        ]
        names = {"#prefix": prefix} | {f"#lapsed{n}": name for n, name in enumerate(lapsed)}
        values = {":until": _n(blocked_until)} | {
            f":lapsed{n}": registry[name] for n, name in enumerate(lapsed)
        }
        remove = f" REMOVE {', '.join(f'#lapsed{n}' for n in range(len(lapsed)))}" if lapsed else ""
        unchanged = " AND ".join(f"#lapsed{n} = :lapsed{n}" for n in range(len(lapsed)))
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": {PARTITION_KEY: {"S": BLOCKS_KEY}},
            "UpdateExpression": f"SET #prefix = :until{remove}",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if unchanged:
            # Another consumer may have blocked a lapsed prefix again meanwhile: keep it then.
            request["ConditionExpression"] = unchanged
        try:
            self._db.update_item(**request)
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            self._db.update_item(
                TableName=self._table,
                Key={PARTITION_KEY: {"S": BLOCKS_KEY}},
                UpdateExpression="SET #prefix = :until",
                ExpressionAttributeNames={"#prefix": prefix},
                ExpressionAttributeValues={":until": _n(blocked_until)},
            )

    def _history_ttl(self, now: int) -> int:
        return now + self._policy.offence_memory_seconds


@dataclass
class _Carried:
    """Sends of one batch that a finer range, blocked in the same batch, accounts for.

    A burst into one four-digit range also crosses its parent's floor (one stream batch holds
    up to 100 records): the parent is judged without the burst, unless two or more of its
    sub-ranges were blocked in the batch, which is the spread a wider block is for.
    """

    sends: Counter[str] = field(default_factory=Counter)
    ranges: Counter[str] = field(default_factory=Counter)

    def add(self, prefix: str, sends: int) -> None:
        for parent in NumberPrefixes.parse(prefix).prefixes[:-1]:
            self.sends[parent] += sends
            self.ranges[parent] += 1

    def excluded(self, prefix: str, window: Counts, day: Counts) -> tuple[Counts, Counts]:
        if self.ranges[prefix] != 1:
            return window, day
        less = self.sends[prefix]
        return (
            Counts(max(window.sends - less, 0), window.verified),
            Counts(max(day.sends - less, 0), day.verified),
        )


def _offences(item: dict[str, Any]) -> Offences:
    return Offences(
        count=_int(item, "offences"),
        last_at=_int(item, "last_offence_at"),
        blocked_until=_int(item, "blocked_until"),
    )


def signals_from_stream(records: Sequence[Mapping[str, Any]]) -> list[Signal]:
    """What a batch of the table's change-stream records (NEW_AND_OLD_IMAGES) says about SMS.

    A new code MAC on a user's item is a send; the attempt that first used the code while it
    was live (the lifecycle's approved transition) is a verification, which names the number's
    MAC when the code recorded it. Items with no prefix are email.
    """
    signals = []
    for record in records:
        change = record.get("dynamodb", {})
        new, old = change.get("NewImage") or {}, change.get("OldImage") or {}
        key = (new or old).get(PARTITION_KEY, {}).get("S", "")
        if not key.startswith("user#"):
            continue
        finest = (new.get(PREFIX_ATTRIBUTE) or old.get(PREFIX_ATTRIBUTE) or {}).get("S")
        if finest is None:
            continue
        new_mac, old_mac = new.get(CODE_MAC), old.get(CODE_MAC)
        if new_mac is not None and new_mac != old_mac:
            signals.append(Signal("sent", NumberPrefixes.parse(finest)))
        elif PREFIX_ATTRIBUTE in old and _is_approval(old, new):
            handset = old.get(HANDSET_ATTRIBUTE, {}).get("S")
            where = NumberPrefixes.parse(old[PREFIX_ATTRIBUTE]["S"])
            signals.append(Signal("verified", where, handset))
    return signals


def _is_approval(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a change approved the verification (verify's write that used the live code)."""
    return any(t.type == EventType.APPROVED for t in transitions(old, new))
