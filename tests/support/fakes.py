"""In-memory collaborators for the rules: a table, a KMS key, SMS/email providers, a clock."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from otp_service.handlers.delivery import MessageSender
from otp_service.handlers.errors import IdempotencyKeyTaken, RateLimited
from otp_service.handlers.fraud_store import SendGuard
from otp_service.handlers.keys import MacKeyring
from otp_service.handlers.store import Attempt, IdempotencyRecord, PendingCode, SendLimits

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

    def publish(self, PhoneNumber: str, Message: str, **_: Any) -> dict[str, Any]:
        return self._send(PhoneNumber, Message)

    def send_email(
        self, Destination: dict[str, list[str]], Message: Any, **_: Any
    ) -> dict[str, Any]:
        return self._send(Destination["ToAddresses"][0], Message["Body"]["Text"]["Data"])

    def _send(self, destination: str, body: str) -> dict[str, Any]:
        if self.error is not None:
            raise ClientError({"Error": {"Code": self.error, "Message": "refused"}}, "Send")
        self.sent.append((destination, body))
        return {"MessageId": f"m-{len(self.sent)}"}


def keyring(kms: FakeKms, key_id: str) -> MacKeyring:
    """The real keyring over the fake KMS."""
    return MacKeyring(cast("KMSClient", kms), key_id)


def sender(provider: FakeProvider, email_sender: str | None = "otp@example.com") -> MessageSender:
    """The real sender over the fake providers."""
    return MessageSender(
        cast("SNSClient", provider), cast("SESClient", provider), email_sender, None
    )


@dataclass
class _User:
    code_macs: set[bytes] = field(default_factory=set)
    code_expires_at: int = 0
    cooldown_until: int = 0
    channel: str = "unknown"
    attempts: int = 0
    attempts_reset_at: int = 0
    key_id: str = ""


@dataclass
class FakeStore:
    """The table's rules in memory: the same outcomes as `OtpStore`, without DynamoDB."""

    users: dict[str, _User] = field(default_factory=dict)
    sends: dict[str, int] = field(default_factory=dict)
    records: dict[str, tuple[IdempotencyRecord, int]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def save_pending_code(
        self,
        code: PendingCode,
        limits: SendLimits,
        record: IdempotencyRecord | None,
        guard: SendGuard | None = None,
    ) -> None:
        # Fraud Guard's transaction items are DynamoDB conditions: tests/fraud runs them on moto.
        self.calls.append("save_pending_code")
        user = self.users.setdefault(code.user_id, _User())
        counters = [
            f"user#{limits.window}#{code.user_id}",
            f"dest#{limits.window}#{code.destination_mac}",
        ]
        waits = []
        if user.cooldown_until > limits.now:
            waits.append(user.cooldown_until - limits.now)
        if any(self.sends.get(c, 0) >= limits.max_sends_per_window for c in counters):
            waits.append(limits.window_end - limits.now)
        if record is not None and record.key_digest in self.records:
            _, expires_at = self.records[record.key_digest]
            if expires_at > limits.now:
                raise IdempotencyKeyTaken
        if waits:
            raise RateLimited(max(waits))
        user.code_macs = {code.code_mac}
        user.code_expires_at = limits.now + limits.code_ttl_seconds
        user.cooldown_until = limits.now + limits.resend_cooldown_seconds
        user.channel = code.channel
        user.attempts = 0
        user.attempts_reset_at = limits.now + max(
            limits.send_window_seconds, limits.code_ttl_seconds
        )
        user.key_id = code.key_id
        for counter in counters:
            self.sends[counter] = self.sends.get(counter, 0) + 1
        if record is not None:
            self.records[record.key_digest] = (record, limits.now + 600)

    def release_send(
        self,
        code: PendingCode,
        limits: SendLimits,
        key_digest: str | None,
        guard: SendGuard | None = None,
    ) -> None:
        self.calls.append("release_send")
        user = self.users[code.user_id]
        if code.code_mac in user.code_macs:
            user.code_macs = set()
            user.code_expires_at = 0
            user.cooldown_until = 0
        for counter in (
            f"user#{limits.window}#{code.user_id}",
            f"dest#{limits.window}#{code.destination_mac}",
        ):
            self.sends[counter] -= 1
        if key_digest is not None:
            self.records.pop(key_digest, None)

    def idempotent_answer(self, key_digest: str, now: int) -> IdempotencyRecord | None:
        self.calls.append("idempotent_answer")
        record, expires_at = self.records.get(key_digest, (None, 0))
        return record if expires_at > now else None

    def count_attempt(self, user_id: str, limits: SendLimits) -> Attempt:
        self.calls.append("count_attempt")
        user = self.users.setdefault(user_id, _User())
        if user.attempts_reset_at and user.attempts_reset_at <= limits.now:
            user.code_macs, user.attempts, user.attempts_reset_at = set(), 0, 0
        if not user.attempts_reset_at:
            user.attempts_reset_at = limits.now + limits.send_window_seconds
        user.attempts += 1
        mac = next(iter(user.code_macs), None)
        return Attempt(
            attempts=user.attempts,
            cooldown_until=user.cooldown_until,
            channel=user.channel,
            code_mac=mac,
            key_id=user.key_id if mac is not None else None,
            code_expires_at=user.code_expires_at,
        )

    def redeem(self, user_id: str, code_mac: bytes, now: int) -> str | None:
        self.calls.append("redeem")
        user = self.users[user_id]
        if code_mac not in user.code_macs or user.code_expires_at <= now:
            return None
        user.code_macs, user.attempts = set(), 0
        return user.channel

    def lock_out(self, user_id: str, cooldown_until: int, now: int) -> None:
        self.calls.append("lock_out")
        user = self.users[user_id]
        user.code_macs, user.cooldown_until = set(), cooldown_until

    def cancel(self, user_id: str, now: int) -> None:
        self.calls.append("cancel")
        if user_id in self.users:
            self.users[user_id].code_macs = set()
            self.users[user_id].code_expires_at = 0
