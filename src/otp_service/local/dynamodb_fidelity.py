"""moto's DynamoDB made to behave as DynamoDB does where the service relies on it.

- **Cost independent of size.** moto backs up every table a `TransactWriteItems` touches with
  `copy.deepcopy` before it starts, so each request-token got slower as the table filled
  (30 ms at 250 users, 240 ms at 1,000, a 15 s outlier at 1,250). Here the backup holds only the
  items the transaction names (and the length of the table's stream), and a cancelled
  transaction restores exactly those: all or nothing, at a cost that does not grow with the table.
- **Idempotent retries.** A `TransactWriteItems` that repeats a successful one's
  `ClientRequestToken` (botocore fills one in, and reuses it when it retries) within 10 minutes
  succeeds again without writing; the same token with other parameters is refused with
  `IdempotentParameterMismatchException`, as DynamoDB documents. Without this a retry after a
  read timeout met the cooldown its own first attempt had set.
- **TTL.** `sweep_expired` deletes items whose TTL attribute lies in the past, as DynamoDB's TTL
  process does (DynamoDB may take days; `otp-local` sweeps every few seconds).

Everything here runs under the lock of `atomic.py`, which `make_dynamodb_atomic` installs.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

IDEMPOTENCY_WINDOW_SECONDS = 600.0
"""How long DynamoDB honours a `ClientRequestToken` after the request that used it completed."""

_monotonic = time.monotonic
"""The idempotency window's clock (tests replace it)."""

_SWEEP_CHUNK = 500
"""Items checked per hold of the lock, so a sweep never stalls requests for long."""


def install(lock: threading.RLock) -> None:
    """Patch moto's DynamoDB backend and handler; safe to call twice."""
    from moto.dynamodb import models  # noqa: PLC0415 - moto loads slowly
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415
    from moto.dynamodb.models.table import Table  # noqa: PLC0415
    from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415

    if getattr(DynamoDBBackend.transact_write_items, "_otp_fidelity", False):
        return
    # The only deep copy of a whole table in the backend is the transaction's backup; leave
    # tables uncopied (their touched items are backed up below) and copy anything else.
    shallow_tables = SimpleNamespace(
        deepcopy=lambda value, *args: value if isinstance(value, Table) else copy.deepcopy(value)
    )
    setattr(models, "copy", shallow_tables)  # noqa: B010 - the module global moto calls
    setattr(  # noqa: B010
        DynamoDBBackend,
        "transact_write_items",
        _item_backup(DynamoDBBackend.transact_write_items),
    )
    setattr(  # noqa: B010
        DynamoHandler, "transact_write_items", _idempotent(DynamoHandler.transact_write_items, lock)
    )


@dataclass
class _Backup:
    """One item as it was before a transaction (None: absent), and its table's stream length."""

    table: Any
    hash_key: Any
    range_key: Any
    item: Any
    stream_length: int | None


def _item_backup(transact: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(transact)
    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        backups = list(_backups(backend, transact_items))
        try:
            transact(backend, transact_items)
        except Exception:
            for backup in reversed(backups):
                _restore(backup)
            raise

    transact_write_items._otp_fidelity = True  # type: ignore[attr-defined]
    return transact_write_items


def _backups(backend: Any, transact_items: list[dict[str, Any]]) -> Iterator[_Backup]:
    from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415

    for action in transact_items:
        for kind, operation in action.items():
            table = backend.tables.get(operation.get("TableName"))
            if table is None:
                continue
            key = operation["Item"] if kind == "Put" else operation.get("Key") or {}
            if table.hash_key_attr not in key:
                continue
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = None
            if table.range_key_attr is not None:
                if table.range_key_attr not in key:
                    continue
                range_key = DynamoType(key[table.range_key_attr])
            item = table.items.get(hash_key)
            if range_key is not None:
                item = (item or {}).get(range_key)
            shard = table.stream_shard
            yield _Backup(
                table,
                hash_key,
                range_key,
                copy.deepcopy(item),
                None if shard is None else len(shard.items),
            )


def _restore(backup: _Backup) -> None:
    items = backup.table.items
    if backup.range_key is None:
        if backup.item is None:
            items.pop(backup.hash_key, None)
        else:
            items[backup.hash_key] = backup.item
    elif backup.item is None:
        items.get(backup.hash_key, {}).pop(backup.range_key, None)
    else:
        items[backup.hash_key][backup.range_key] = backup.item
    shard = backup.table.stream_shard
    if shard is not None and backup.stream_length is not None:
        # A cancelled transaction wrote nothing, so it leaves no stream record either.
        del shard.items[backup.stream_length :]


class _CompletedTokens:
    """`ClientRequestToken`s of successful transactions, each with its request's fingerprint."""

    def __init__(self) -> None:
        self._tokens: OrderedDict[tuple[str, str, str], tuple[str, float]] = OrderedDict()

    def seen(self, key: tuple[str, str, str], now: float) -> str | None:
        while self._tokens:
            oldest, (_, completed) = next(iter(self._tokens.items()))
            if now - completed < IDEMPOTENCY_WINDOW_SECONDS:
                break
            del self._tokens[oldest]
        found = self._tokens.get(key)
        if found is None or now - found[1] >= IDEMPOTENCY_WINDOW_SECONDS:
            return None
        return found[0]

    def add(self, key: tuple[str, str, str], fingerprint: str, now: float) -> None:
        self._tokens[key] = (fingerprint, now)


def _idempotent(respond: Callable[[Any], Any], lock: threading.RLock) -> Callable[[Any], Any]:
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException  # noqa: PLC0415

    def mismatch() -> Exception:
        error: Exception = DynamodbException(
            ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException",
            "The request uses the same client token as a previous, but non-identical request.",
        )
        return error

    completed = _CompletedTokens()

    @functools.wraps(respond)
    def transact_write_items(handler: Any) -> Any:
        token = handler.body.get("ClientRequestToken")
        if not token:
            return respond(handler)
        key = (handler.current_account, handler.region, str(token))
        request = {k: v for k, v in handler.body.items() if k != "ClientRequestToken"}
        fingerprint = hashlib.sha256(
            json.dumps(request, sort_keys=True, default=repr).encode()
        ).hexdigest()
        with lock:
            previous = completed.seen(key, _monotonic())
            if previous is not None:
                if previous != fingerprint:
                    raise mismatch()
                return _success()
            result = respond(handler)
            completed.add(key, fingerprint, _monotonic())
            return result

    return transact_write_items


def _success() -> Any:
    from moto.core.responses import ActionResult  # noqa: PLC0415

    return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})


def sweep_expired(now: float, lock: threading.RLock) -> int:
    """Delete every item whose TTL attribute is before `now`, in every table; how many."""
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415

    deleted = 0
    for account in list(dynamodb_backends.keys()):
        for region in list(dynamodb_backends[account].keys()):
            for table in list(dynamodb_backends[account][region].tables.values()):
                deleted += _sweep_table(table, now, lock)
    return deleted


def _sweep_table(table: Any, now: float, lock: threading.RLock) -> int:
    ttl = table.ttl
    attribute = ttl.get("AttributeName")
    if ttl.get("TimeToLiveStatus") != "ENABLED" or not attribute:
        return 0
    with lock:
        keys = [
            (hash_key, range_key)
            for hash_key, value in table.items.items()
            for range_key in (value if table.has_range_key else (None,))
        ]
    deleted = 0
    for start in range(0, len(keys), _SWEEP_CHUNK):
        with lock:
            for hash_key, range_key in keys[start : start + _SWEEP_CHUNK]:
                item = table.get_item(hash_key, range_key)
                expires = None if item is None else item.attrs.get(attribute)
                if expires is not None and expires.type == "N" and float(expires.value) < now:
                    table.delete_item(hash_key, range_key)
                    deleted += 1
    return deleted
