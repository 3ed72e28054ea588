"""moto's DynamoDB made to behave as DynamoDB does where the service relies on it.

- **Cost independent of size.** moto backs up every table a `TransactWriteItems` touches with
  `copy.deepcopy` before it starts, so each request-token got slower as the table filled
  (30 ms at 250 users, 240 ms at 1,000, a 15 s outlier at 1,250). Here the backup holds only the
  items the transaction names (and the length of the table's stream), and a cancelled
  transaction restores exactly those: all or nothing, at a cost that does not grow with the table.
- **Cost per request.** An update expression is parsed once per distinct string, not twice per
  write.
- **Idempotent retries.** A `TransactWriteItems` that repeats a successful one's
  `ClientRequestToken` (botocore fills one in, and reuses it when it retries) within 10 minutes
  succeeds again without writing; the same token with other parameters is refused with
  `IdempotentParameterMismatchException`, as DynamoDB documents. Without this a retry after a
  read timeout met the cooldown its own first attempt had set.
- **One stream record per write.** moto's `UpdateItem` creates a missing item by first putting
  its bare key, which leaves an extra `INSERT` record (key only) before the real one; DynamoDB
  writes one `INSERT` with the whole new image. Here the bare key's record is never written
  (a reader of the stream could otherwise meet it between the two), so the stream, and the
  events function reading it, see one.
- **TTL.** `sweep_expired` deletes items whose TTL attribute lies in the past, as DynamoDB's TTL
  process does (DynamoDB may take days; `otp-local` sweeps every few seconds). Every write notes
  the item's expiry in an index ordered by time, so a sweep reads only the items that have
  expired, never the whole table: its cost does not grow with the table either.

Everything here runs under the lock of `atomic.py`, which `make_dynamodb_atomic` installs.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import heapq
import importlib
import inspect
import itertools
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
"""Expired items deleted per hold of the lock, so a sweep never stalls requests for long."""


def install(lock: threading.RLock) -> None:
    """Patch moto's DynamoDB backend and handler; safe to call twice."""
    from moto.dynamodb import models  # noqa: PLC0415 - moto loads slowly
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415
    from moto.dynamodb.models.table import StreamShard, Table  # noqa: PLC0415
    from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415

    if getattr(DynamoDBBackend.transact_write_items, "_otp_fidelity", False):
        return
    # moto parses each update expression twice per write, though a service sends the same few
    # strings with new values; its validators work on a deep copy of the tree, never on it.
    # (The module is untyped for mypy, hence `Any`.)
    expressions: Any = importlib.import_module("moto.dynamodb.parsing.expressions")
    parser = expressions.UpdateExpressionParser
    parse: Any = functools.lru_cache(maxsize=1024)(parser.make.__func__)
    parser.make = classmethod(parse)
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
    for name, key_parameter in _WRITES.items():
        write = getattr(DynamoDBBackend, name)
        setattr(DynamoDBBackend, name, _noting_expiry(write, key_parameter))
    setattr(DynamoDBBackend, "update_item", _one_insert(DynamoDBBackend.update_item))  # noqa: B010
    setattr(StreamShard, "add", _without_bare_insert(StreamShard.add))  # noqa: B010
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
    for table, hash_key, range_key in _transaction_keys(backend, transact_items):
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


_Key = tuple[Any, Any, Any]
"""A table and the hash and range key (None without one) of one of its items."""


def _transaction_keys(backend: Any, transact_items: list[dict[str, Any]]) -> Iterator[_Key]:
    for action in transact_items:
        for kind, operation in action.items():
            table = backend.tables.get(operation.get("TableName"))
            attributes = operation["Item"] if kind == "Put" else operation.get("Key") or {}
            key = None if table is None else _key_of(table, attributes)
            if key is not None:
                yield key


def _key_of(table: Any, attributes: dict[str, Any]) -> _Key | None:
    """The item key in `attributes` (wire format), or None if it does not name one."""
    from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415

    if table.hash_key_attr not in attributes:
        return None
    range_key = None
    if table.range_key_attr is not None:
        if table.range_key_attr not in attributes:
            return None
        range_key = DynamoType(attributes[table.range_key_attr])
    return table, DynamoType(attributes[table.hash_key_attr]), range_key


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


def _written_keys(
    backend: Any, table_name: str, key_parameter: str | None, bound: Any
) -> list[_Key]:
    table = backend.tables.get(table_name)
    if table is None:
        return []
    if key_parameter is None:  # TTL just turned on (once, at provisioning): every item
        return [
            (table, hash_key, range_key)
            for hash_key, value in table.items.items()
            for range_key in (value if table.has_range_key else (None,))
        ]
    key = _key_of(table, bound.arguments[key_parameter])
    return [] if key is None else [key]


_WRITES = {"put_item": "item_attrs", "update_item": "key", "update_time_to_live": None}
"""The backend's writes (a transaction's Put and Update call the first two), and the parameter
naming the item each one wrote."""


def _noting_expiry(write: Callable[..., Any], key_parameter: str | None) -> Callable[..., Any]:
    signature = inspect.signature(write)

    @functools.wraps(write)
    def noting(backend: Any, *args: Any, **kwargs: Any) -> Any:
        result = write(backend, *args, **kwargs)
        bound = signature.bind(backend, *args, **kwargs)
        for key in _written_keys(backend, bound.arguments["table_name"], key_parameter, bound):
            EXPIRING.note(*key)
        return result

    return noting


_UPDATING = threading.local()
"""`skip_bare`: this thread is inside an `UpdateItem`, before its first stream record."""


def _one_insert(update: Callable[..., Any]) -> Callable[..., Any]:
    """`UpdateItem`, where a first stream record with no old image (the bare key moto puts to
    create the item) is not written: the update's own `INSERT` follows it."""

    @functools.wraps(update)
    def update_item(backend: Any, *args: Any, **kwargs: Any) -> Any:
        _UPDATING.skip_bare = True
        try:
            return update(backend, *args, **kwargs)
        finally:
            _UPDATING.skip_bare = False

    return update_item


def _without_bare_insert(add: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(add)
    def add_record(shard: Any, old: Any, new: Any) -> None:
        skip = getattr(_UPDATING, "skip_bare", False)
        _UPDATING.skip_bare = False
        if skip and old is None:
            return
        add(shard, old, new)

    return add_record


class _ExpiryIndex:
    """Items with a TTL, ordered by when they expire; each noted again when it is written."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Any, Any, Any]] = []
        self._noted: dict[tuple[int, Any, Any], float] = {}
        self._order = itertools.count()

    def note(self, table: Any, hash_key: Any, range_key: Any) -> None:
        """Record the item's current expiry (if its table has TTL on and it has one)."""
        expires = _expiry(table, table.get_item(hash_key, range_key))
        identity = (id(table), hash_key, range_key)
        if expires is None or self._noted.get(identity) == expires:
            return
        self._noted[identity] = expires
        heapq.heappush(self._heap, (expires, next(self._order), table, hash_key, range_key))

    def pop_expired(self, now: float, limit: int) -> list[_Key]:
        """Up to `limit` keys noted with an expiry before `now` (their items may have changed)."""
        keys: list[_Key] = []
        while self._heap and self._heap[0][0] < now and len(keys) < limit:
            expires, _, table, hash_key, range_key = heapq.heappop(self._heap)
            identity = (id(table), hash_key, range_key)
            if self._noted.get(identity) == expires:
                del self._noted[identity]
            keys.append((table, hash_key, range_key))
        return keys


EXPIRING = _ExpiryIndex()
"""Every table's items by expiry, fed by the backend's writes."""


def _expiry(table: Any, item: Any) -> float | None:
    ttl = table.ttl
    attribute = ttl.get("AttributeName")
    if item is None or ttl.get("TimeToLiveStatus") != "ENABLED" or not attribute:
        return None
    expires = item.attrs.get(attribute)
    if expires is None or expires.type != "N":
        return None
    return float(expires.value)


def sweep_expired(now: float, lock: threading.RLock) -> int:
    """Delete every item whose TTL attribute is before `now`, in every table; how many.

    Only the items the index says have expired are read, each checked again as it is now (it
    may have been rewritten with a later expiry, or deleted, or its table dropped).
    """
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415

    deleted = 0
    while True:
        with lock:
            keys = EXPIRING.pop_expired(now, _SWEEP_CHUNK)
            for table, hash_key, range_key in keys:
                backend: Any = dynamodb_backends[table.account_id][table.region_name]
                if backend.tables.get(table.name) is not table:
                    continue  # dropped (or the account reset) since
                expires = _expiry(table, table.get_item(hash_key, range_key))
                if expires is not None and expires < now:
                    table.delete_item(hash_key, range_key)
                    deleted += 1
        if len(keys) < _SWEEP_CHUNK:
            return deleted
