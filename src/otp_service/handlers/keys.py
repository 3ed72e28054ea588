"""Keyed MACs for codes and destinations, under subkeys derived from KMS HMAC keys.

The KMS keys never leave KMS. Each container asks KMS once per key (GenerateMac over a fixed
label) for a subkey and keeps it in memory only, so request and verify need no KMS call of their
own. After a rotation both functions also hold the retired key's subkey: codes in flight still
verify, and a destination's sends and an `Idempotency-Key`'s first answer are still recognised.

With Lambda SnapStart one initialized container is snapshotted and restored many times. Nothing
is derived during initialization, and `forget_derived_subkeys` (registered with the runtime's
`snapshot_restore_py.register_after_restore` where it exists) drops whatever a container derived
before its snapshot, so every restored container asks KMS for its own subkeys.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import importlib.util
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

_SUBKEY_LABEL = b"otp-service/mac-subkey/v1"
_keyrings: weakref.WeakSet[MacKeyring] = weakref.WeakSet()


@dataclass(frozen=True)
class KeyVersion:
    """A subkey and the id (an ARN in AWS) of the KMS key it was derived from."""

    key_id: str
    subkey: bytes

    def code_mac(self, user_id: str, code: str) -> bytes:
        """The MAC stored in place of a code, bound to its user."""
        return self._mac(b"code", user_id.encode(), code.encode())

    def destination_mac(self, destination: str) -> str:
        """A stable name for a destination that does not reveal it."""
        return self._mac(b"destination", destination.encode()).hex()

    def handset_mac(self, user_id: str, destination: str) -> str:
        """A name for one user's use of one destination, for Fraud Guard's proven handsets.

        Bound to the user: a mark proves the number to the account that verified it, so a
        blocked range answers every other account alike, proven number or not.
        """
        return self._mac(b"handset", user_id.encode(), destination.encode()).hex()

    def _mac(self, *parts: bytes) -> bytes:
        return hmac.new(self.subkey, b"\x00".join(parts), hashlib.sha256).digest()


class MacKeyring:
    """Derives each key's subkey on first use, once, safely across threads."""

    def __init__(self, kms: KMSClient, key_id: str, retired_key_id: str | None = None) -> None:
        self._kms = kms
        self._key_ids = (key_id,) if retired_key_id is None else (key_id, retired_key_id)
        self._derived: dict[str, KeyVersion] = {}
        self._locks = {key: threading.Lock() for key in self._key_ids}
        _keyrings.add(self)

    def forget(self) -> None:
        """Drop every derived subkey; the next use derives afresh from KMS."""
        self._derived = {}

    def current(self) -> KeyVersion:
        """The subkey new codes are MACed under."""
        return self._version(self._key_ids[0])

    def live(self) -> tuple[KeyVersion, ...]:
        """Every subkey a pending code may be MACed under, the current one first.

        Missing subkeys are derived side by side, so a cold start after a rotation waits for
        one KMS round trip, not two (the time budget in tests/security/test_faults.py).
        """
        missing = [key_id for key_id in self._key_ids if key_id not in self._derived]
        if len(missing) > 1:
            from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - after rotations only

            with ThreadPoolExecutor(len(missing)) as pool:
                list(pool.map(self._version, missing))  # re-raises the first failure
        return tuple(self._version(key_id) for key_id in self._key_ids)

    def _version(self, key_id: str) -> KeyVersion:
        version = self._derived.get(key_id)
        if version is None:
            with self._locks[key_id]:
                version = self._derived.get(key_id)
                if version is None:
                    answer = self._kms.generate_mac(
                        KeyId=key_id, Message=_SUBKEY_LABEL, MacAlgorithm="HMAC_SHA_256"
                    )
                    version = KeyVersion(key_id=answer["KeyId"], subkey=answer["Mac"])
                    self._derived[key_id] = version
        return version


def forget_derived_subkeys() -> None:
    """After a SnapStart restore: no subkey from before the snapshot is used again."""
    for keyring in list(_keyrings):
        keyring.forget()


def register_snapshot_hooks() -> bool:
    """Register `forget_derived_subkeys` with SnapStart's runtime hooks, where they exist."""
    if importlib.util.find_spec("snapshot_restore_py") is None:
        return False
    hooks = importlib.import_module("snapshot_restore_py")
    hooks.register_after_restore(forget_derived_subkeys)
    return True


register_snapshot_hooks()
