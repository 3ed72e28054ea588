"""Make moto's DynamoDB as atomic as the real one: one item operation at a time.

moto evaluates a condition and then writes, with nothing in between to stop another thread;
DynamoDB does both atomically. Serialising the backend's item operations restores that.
moto's UpdateItem handler also reads the item it answers `ReturnValues=ALL_OLD` with before it
calls the backend, so two racing writes could both be answered with the same old item (both
verifies of one code would see it pending): that handler is serialised as a whole too.
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
    """Serialise moto's DynamoDB item operations across threads; safe to call twice.

    Also makes transactions cost the same at any table size and retries idempotent
    (`dynamodb_fidelity`), and expressions cheaper to check (`moto_costs`).
    """
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415 - moto loads slowly
    from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415

    from . import dynamodb_fidelity, moto_costs  # noqa: PLC0415 - they import moto

    # Under the lock: a transaction's item backup and its writes are one step.
    dynamodb_fidelity.install(_LOCK)
    moto_costs.install()
    targets: list[tuple[type, str]] = [(DynamoDBBackend, name) for name in _OPERATIONS]
    targets.append((DynamoHandler, "update_item"))
    for owner, name in targets:
        method = getattr(owner, name)
        if getattr(method, "_otp_atomic", False):
            continue
        setattr(owner, name, _serialised(method))


def _serialised(method: Any) -> Any:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    locked._otp_atomic = True  # type: ignore[attr-defined]
    return locked


def sweep_expired_items(now: float) -> int:
    """Delete every item whose TTL has passed at `now`, as DynamoDB's TTL would; how many."""
    from . import dynamodb_fidelity  # noqa: PLC0415 - it imports moto

    return dynamodb_fidelity.sweep_expired(now, _LOCK)
