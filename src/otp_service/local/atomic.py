"""Make moto's DynamoDB as atomic as the real one: one item operation at a time.

moto evaluates a condition and then writes, with nothing in between to stop another thread;
DynamoDB does both atomically. Serialising the backend's item operations restores that.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_LOCK = threading.RLock()
_OPERATIONS = (
    "batch_get_item",
    "batch_write_item",
    "delete_item",
    "get_item",
    "put_item",
    "query",
    "scan",
    "transact_get_items",
    "transact_write_items",
    "update_item",
)


def make_dynamodb_atomic() -> None:
    """Serialise moto's DynamoDB item operations across threads; safe to call twice."""
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415 - moto loads slowly

    for name in _OPERATIONS:
        method = getattr(DynamoDBBackend, name)
        if getattr(method, "_otp_atomic", False):
            continue
        setattr(DynamoDBBackend, name, _serialised(method))


def _serialised(method: Any) -> Any:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    locked._otp_atomic = True  # type: ignore[attr-defined]
    return locked
