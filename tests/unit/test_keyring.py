"""The keyring: one KMS call per key and container, both keys of a rotation derived together."""

from __future__ import annotations

import hashlib
import hmac
import threading
from typing import Any, cast

from otp_service.handlers.keys import MacKeyring


class _MeetingKms:
    """GenerateMac that returns only once `expected` calls are in flight at the same time."""

    def __init__(self, expected: int) -> None:
        self.meeting = threading.Barrier(expected, timeout=5)
        self.calls: list[str] = []

    def generate_mac(self, KeyId: str, Message: bytes, MacAlgorithm: str) -> dict[str, Any]:
        self.calls.append(KeyId)
        self.meeting.wait()  # BrokenBarrierError if the other derivation waits for this one
        return {"KeyId": KeyId, "Mac": hmac.new(KeyId.encode(), Message, hashlib.sha256).digest()}


def test_after_a_rotation_both_subkeys_are_derived_side_by_side() -> None:
    """A cold start after a rotation waits one KMS round trip, which the time budget counts."""
    kms = _MeetingKms(expected=2)
    keyring = MacKeyring(cast("Any", kms), "key-2", "key-1")
    current, retired = keyring.live()
    assert (current.key_id, retired.key_id) == ("key-2", "key-1")
    assert sorted(kms.calls) == ["key-1", "key-2"]
    assert keyring.live() == (current, retired)
    assert len(kms.calls) == 2, "a warm container derives nothing"


def test_without_a_rotation_one_subkey_is_derived_once() -> None:
    kms = _MeetingKms(expected=1)
    keyring = MacKeyring(cast("Any", kms), "key-1")
    assert keyring.live() == (keyring.current(),)
    assert kms.calls == ["key-1"]
