"""A pending code's verification attempts: what verify's one write records, and what it means.

Each verify appends one entry to the user's item: when it was made, and a short tag of the
guess's MAC under each live key. The first entry whose tags hold the code's MAC is the one that
used the code (accepted it, or entered it after it expired); every other entry is a failure.
Because DynamoDB applies writes to an item one at a time, each verify sees every earlier entry
in the item it gets back (`ALL_OLD`), so of racing right guesses exactly one finds the code
unused. Verify's answer, the lifecycle's statuses and Fraud Guard's conversions all read the
entries the same way, here.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ATTEMPTS = "verify_attempts"
"""The user item's list of attempts since its latest code (a list of maps)."""
MADE_AT = "made_at"
"""An entry's time, in epoch seconds (`at` is a DynamoDB reserved word)."""
TAGS = "guess_tags"
"""An entry's tags of the guess's MAC, one per live key."""
CODE_MAC = "code_mac"
"""The user item's MAC of its latest code; it stays until the next code replaces it."""
MAX_ATTEMPTS = "max_attempts"
"""The failed attempts the latest code allows, as the policy said when it was sent."""
TAG_BYTES = 8
"""64 bits of each MAC: enough to tell the code's entry from a wrong guess's (acceptance itself
compares the whole MAC), and small enough that a full list stays near one write unit."""


def tag(mac: bytes) -> bytes:
    """The part of a MAC an attempt records."""
    return mac[:TAG_BYTES]


@dataclass(frozen=True)
class Entry:
    """One recorded attempt."""

    at: int
    tags: frozenset[bytes]


def entry_value(at: int, guesses: Sequence[bytes]) -> dict[str, Any]:
    """The entry an attempt at `at` appends, in DynamoDB JSON."""
    return {"M": {MADE_AT: {"N": str(at)}, TAGS: {"BS": sorted({tag(g) for g in guesses})}}}


def entries_of(item: Mapping[str, Any]) -> tuple[Entry, ...]:
    """The attempts an item (or a stream image, where binaries are base64) records."""
    return tuple(
        Entry(
            at=int(entry["M"][MADE_AT]["N"]),
            tags=frozenset(binary(value) for value in entry["M"][TAGS]["BS"]),
        )
        for entry in item.get(ATTEMPTS, {}).get("L", [])
    )


def code_mac_of(item: Mapping[str, Any]) -> bytes | None:
    """The item's code MAC, if it holds one."""
    return binary(item[CODE_MAC]["B"]) if CODE_MAC in item else None


def binary(value: bytes | str) -> bytes:
    """A binary attribute's bytes: boto3 gives bytes, a Lambda stream record base64 text."""
    return base64.b64decode(value) if isinstance(value, str) else bytes(value)


def used_index(entries: Sequence[Entry], code_mac: bytes | None, limit: int | None) -> int | None:
    """The index of the entry that used the code, if one did: the first to hold its tag while
    fewer than `limit` attempts had failed. Every entry is compared, in constant time."""
    wanted = tag(code_mac) if code_mac is not None else bytes(TAG_BYTES)
    found = None
    for index, entry in enumerate(entries):
        same = [hmac.compare_digest(wanted, seen) for seen in entry.tags]
        allowed = limit is None or index < limit
        if any(same) and found is None and allowed and code_mac is not None:
            found = index
    return found
