"""In-memory collaborators for the rules: a table, a KMS key, SMS/email providers, a clock."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from otp_service.handlers.attempts import Entry, tag
from otp_service.handlers.delivery import MessageSender
from otp_service.handlers.errors import DestinationBlocked, IdempotencyKeyTaken, RateLimited
from otp_service.handlers.fraud_store import SendGuard
from otp_service.handlers.keys import MacKeyring
from otp_service.handlers.store import (
    Attempt,
    IdempotencyRecord,
    PendingCode,
    SendLimits,
    lockout_over,
)

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_ses import SESClient
    from mypy_boto3_sns import SNSClient

START = 1_800_000_000


@dataclass
class FakeKms:
    """GenerateMac over a fixed secret per key id; counts its calls."""

    calls: int = 0

    def generate_mac(self, KeyId: str, Message: bytes, MacAlgorithm: str) -> dict[str, Any]:
        self.calls += 1
        return {"KeyId": KeyId, "Mac": hmac.new(KeyId.encode(), Message, hashlib.sha256).digest()}


@dataclass
class FakeProvider:
    """SNS and SES at once: records what was sent, or refuses it with `error`."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None
    email_tags: list[list[dict[str, str]]] = field(default_factory=list)
    """The message tags of each email, which SES copies into its delivery events."""

    def publish(self, PhoneNumber: str, Message: str, **_: Any) -> dict[str, Any]:
        return self._send(PhoneNumber, Message)

    def send_email(
        self, Destination: dict[str, list[str]], Message: Any, **rest: Any
    ) -> dict[str, Any]:
        self.email_tags.append(rest.get("Tags", []))
        return self._send(Destination["ToAddresses"][0], Message["Body"]["Text"]["Data"])

    def _send(self, destination: str, body: str) -> dict[str, Any]:
        if self.error is not None:
            raise ClientError({"Error": {"Code": self.error, "Message": "refused"}}, "Send")
        self.sent.append((destination, body))
        return {"MessageId": f"m-{len(self.sent)}"}


def keyring(kms: FakeKms, key_id: str, retired_key_id: str | None = None) -> MacKeyring:
    """The real keyring over the fake KMS."""
    return MacKeyring(cast("KMSClient", kms), key_id, retired_key_id)


def sender(
    provider: FakeProvider,
    email_sender: str | None = "otp@example.com",
    receipts_configuration_set: str | None = None,
) -> MessageSender:
    """The real sender over the fake providers."""
    return MessageSender(
        lambda: cast("SNSClient", provider),
        lambda: cast("SESClient", provider),
        email_sender,
        None,
        receipts_configuration_set=receipts_configuration_set,
    )


@dataclass
class _User:
    code_mac: bytes | None = None
    code_expires_at: int = 0
    cooldown_until: int = 0
    channel: str = "unknown"
    attempts: list[Entry] = field(default_factory=list)
    ended: bool = False
    ended_at: int | None = None
    """When a cancel ended the code: the verification record's outcome time."""


@dataclass
class FakeStore:
    """The table's rules in memory: the same outcomes as `OtpStore`, without DynamoDB."""

    users: dict[str, _User] = field(default_factory=dict)
    sends: dict[str, int] = field(default_factory=dict)
    records: dict[str, tuple[IdempotencyRecord, int]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    saved: list[tuple[PendingCode, SendGuard | None]] = field(default_factory=list)
    """Each pending code the rules asked to save, with the Fraud Guard checks it must pass."""
    released: list[SendGuard | None] = field(default_factory=list)
    """The guard each undo was given, so its budgets are given back."""
    blocked: DestinationBlocked | None = None
    """Fraud Guard's refusal of any guarded send (its conditions themselves run on moto)."""
    proven_handsets: set[str] = field(default_factory=set)
    """Destination MACs of numbers that verified a code before."""

    def save_pending_code(
        self,
        code: PendingCode,
        limits: SendLimits,
        record: IdempotencyRecord | None,
        guard: SendGuard | None = None,
    ) -> None:
        # Fraud Guard's transaction items are DynamoDB conditions: tests/fraud runs them on moto.
        self.calls.append("save_pending_code")
        self.saved.append((code, guard))
        blocked = self.blocked
        if guard is not None and blocked is not None and (guard.prefixes or blocked.budget_spent):
            raise blocked
        user = self.users.setdefault(code.user_id, _User())
        counters = [
            f"user#{limits.window}#{code.user_id}",
            *(f"dest#{limits.window}#{mac}" for mac in code.destination_macs()),
        ]
        waits = []
        if user.cooldown_until > limits.now:
            waits.append(user.cooldown_until - limits.now)
        if lockout_over(tuple(user.attempts), limits) > limits.now:
            waits.append(lockout_over(tuple(user.attempts), limits) - limits.now)
        if any(self.sends.get(c, 0) >= limits.max_sends_per_window for c in counters):
            waits.append(limits.window_end - limits.now)
        if record is not None and record.key_digest in self.records:
            _, expires_at = self.records[record.key_digest]
            if expires_at > limits.now:
                raise IdempotencyKeyTaken
        if waits:
            raise RateLimited(max(waits))
        user.code_mac = code.code_mac
        user.code_expires_at = limits.now + limits.code_ttl_seconds
        user.cooldown_until = limits.now + limits.resend_cooldown_seconds
        user.channel = code.channel
        user.attempts, user.ended = [], False
        for counter in counters:
            self.sends[counter] = self.sends.get(counter, 0) + 1
        if record is not None:
            self.records[record.key_digest] = (record, limits.now + 600)

    def is_proven_handset(self, handset_macs: tuple[str, ...], now: int) -> bool:
        self.calls.append("is_proven_handset")
        return bool(self.proven_handsets.intersection(handset_macs))

    def release_send(
        self,
        code: PendingCode,
        limits: SendLimits,
        key_digest: str | None,
        guard: SendGuard | None = None,
    ) -> None:
        self.calls.append("release_send")
        self.released.append(guard)
        user = self.users[code.user_id]
        if user.code_mac in (None, code.code_mac):
            user.code_mac, user.code_expires_at, user.cooldown_until = None, 0, 0
            user.attempts, user.ended = [], True
        for counter in (
            f"user#{limits.window}#{code.user_id}",
            *(f"dest#{limits.window}#{mac}" for mac in code.destination_macs()),
        ):
            self.sends[counter] -= 1
        if key_digest is not None:
            self.records.pop(key_digest, None)

    def idempotent_answer(self, key_digest: str, now: int) -> IdempotencyRecord | None:
        self.calls.append("idempotent_answer")
        record, expires_at = self.records.get(key_digest, (None, 0))
        return record if expires_at > now else None

    def attempt(self, user_id: str, guesses: list[bytes], limits: SendLimits) -> Attempt:
        self.calls.append("attempt")
        user = self.users.setdefault(user_id, _User())
        earlier = tuple(user.attempts)
        counted = len(earlier) < limits.attempt_room
        if counted:
            user.attempts.append(Entry(limits.now, frozenset(tag(guess) for guess in guesses)))
        return Attempt(
            counted=counted,
            earlier=earlier,
            code_mac=user.code_mac,
            code_expires_at=user.code_expires_at,
            ended=user.ended,
            channel=user.channel,
        )

    def cancel(self, user_id: str, now: int) -> None:
        self.calls.append("cancel")
        user = self.users.get(user_id)
        if user is not None and user.code_mac is not None and not user.ended:
            user.ended, user.ended_at = True, now
