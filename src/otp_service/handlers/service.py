"""The business rules of request, verify and cancel, over typed bodies and their collaborators.

Each rule raises the domain's errors (`errors.py`); the handler shell maps them to answers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Protocol

from .attempts import Entry, tag, used_index
from .delivery import MessageSender
from .errors import (
    DeliveryFailed,
    DestinationBlocked,
    DestinationNotAllowed,
    FieldError,
    IdempotencyKeyReused,
    IdempotencyKeyTaken,
    InvalidCode,
    InvalidRequest,
    RateLimited,
    TooManyAttempts,
)
from .fraud import FraudPolicy, NumberPrefixes
from .fraud_store import SendGuard
from .keys import MacKeyring
from .lifecycle import new_verification_id
from .masking import mask_destination
from .messages import NO_AUTOFILL, Autofill, render
from .metric_names import Metric
from .models import (
    CancelTokenBody,
    RequestTokenBody,
    VerifyTokenBody,
    format_e164,
    is_premium_rate,
    normalize_email,
    parse_code,
    parse_phone_number,
)
from .observability import SENT_LOG_MESSAGE, count, logger
from .settings import Policy
from .store import Attempt, IdempotencyRecord, PendingCode, SendLimits


class CodeStore(Protocol):
    """What the rules need from the table (`store.OtpStore`; an in-memory fake in unit tests)."""

    def save_pending_code(
        self,
        code: PendingCode,
        limits: SendLimits,
        record: IdempotencyRecord | None,
        guard: SendGuard | None = None,
    ) -> None: ...

    def release_send(
        self,
        code: PendingCode,
        limits: SendLimits,
        key_digest: str | None,
        guard: SendGuard | None = None,
    ) -> None: ...

    def idempotent_answer(self, key_digest: str, now: int) -> IdempotencyRecord | None: ...

    def attempt(self, user_id: str, guesses: list[bytes], limits: SendLimits) -> Attempt: ...

    def cancel(self, user_id: str, now: int) -> None: ...


@dataclass(frozen=True)
class Answer:
    """A successful answer: its status, JSON body and any extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


REPLAYED_HEADER = "Idempotent-Replayed"
"""Set to `true` on an answer repeated for an `Idempotency-Key` (as Stripe and others do)."""
_SENT_AT = "_sent_at"
"""Kept beside a stored answer so a replay can say how much time is left *now*."""


def generate_code(length: int) -> str:
    """A uniformly random code of `length` digits from the OS CSPRNG."""
    return f"{secrets.randbelow(10**length):0{length}d}"


def request_token(
    body: RequestTokenBody,
    idempotency_key: str | None,
    *,
    now: int,
    policy: Policy,
    brand_name: str,
    store: CodeStore,
    keyring: MacKeyring,
    sender: MessageSender,
    fraud_guard: FraudPolicy | None = None,
    autofill: Autofill = NO_AUTOFILL,
) -> Answer:
    """Send a fresh code to the destination and make it the user's only pending code."""
    destination, calling_code = _checked_destination(body, policy, sender)
    key_digest = _idempotency_digest(idempotency_key)
    limits = SendLimits.of(policy, now)
    masked = mask_destination(body.channel, destination)
    verification_id = new_verification_id()
    accepted = {
        "status": "pending",
        "verification_id": verification_id,
        "channel": body.channel,
        "destination": masked,
        "expires_in": policy.code_ttl_seconds,
        "resend_after": policy.resend_cooldown_seconds,
    }
    # The destination's name under every live key: after a rotation its sends so far, and the
    # first answer to an Idempotency-Key, are known by the retired key's name.
    key, *retired = keyring.live()
    names = [live.destination_mac(destination.lower()) for live in (key, *retired)]
    # A test destination pends its fixed code; limits, cooldown and attempts apply as usual.
    test_code = policy.test_code_for(destination)
    code = test_code or generate_code(policy.code_length)
    # Test destinations send nothing, so Fraud Guard neither checks nor budgets them.
    where = NumberPrefixes.of(destination, calling_code) if calling_code else None
    guard = None
    if where is not None and fraud_guard is not None:
        guard = SendGuard.of(where, destination, fraud_guard, limits.now)
    pending = PendingCode(
        user_id=body.user_id,
        channel=body.channel,
        code_mac=key.code_mac(body.user_id, code),
        destination_mac=names[0],
        retired_destination_macs=tuple(names[1:]),
        verification_id=verification_id,
        masked_destination=masked,
        retention_seconds=policy.verification_retention_days * 86_400,
        test=test_code is not None,
        fraud_prefix=where.finest if where is not None else None,
    )
    fingerprints = [_fingerprint(body, name) for name in names]
    record = None
    if key_digest is not None:
        record = IdempotencyRecord(
            key_digest, fingerprints[0], json.dumps({**accepted, _SENT_AT: limits.now})
        )
    try:
        store.save_pending_code(pending, limits, record, guard)
    except DestinationBlocked as blocked:
        # The same answer as a country outside the list: nothing to probe thresholds with.
        count(Metric.BLOCKED_SEND, body.channel)
        if blocked.budget_spent:
            count(Metric.SMS_BUDGET_EXHAUSTED, body.channel)
        raise DestinationNotAllowed(premium_rate=False) from None
    except RateLimited:
        count(Metric.RATE_LIMITED, body.channel)
        raise
    except IdempotencyKeyTaken:
        assert record is not None
        return _replay(store, record.key_digest, fingerprints, limits.now)
    if test_code is not None:
        count(Metric.TEST_CODE_PENDED, body.channel)
        logger.info("test recipient: nothing sent", extra={"channel": body.channel})
        return Answer(202, accepted)
    message = render(body.channel, body.locale, brand_name, code, policy.code_ttl_seconds, autofill)
    try:
        message_id = sender.send(body.channel, destination, message, verification_id)
    except DeliveryFailed:
        _release(store, pending, limits, key_digest, guard)
        count(Metric.DELIVERY_FAILED, body.channel)
        logger.warning("delivery rejected", extra={"channel": body.channel, "masked": masked})
        raise
    except Exception:
        _release(store, pending, limits, key_digest, guard)
        raise
    count(Metric.CODE_SENT, body.channel)
    # The SMS delivery-status logs name only the provider's message id: this line is how a
    # receipt finds its verification (a log subscription feeds it to the receipts function),
    # without another write on this path.
    logger.info(
        SENT_LOG_MESSAGE,
        extra={
            "channel": body.channel,
            "masked": masked,
            "message_id": message_id,
            "verification_id": verification_id,
        },
    )
    return Answer(202, accepted)


def verify_token(
    body: VerifyTokenBody, *, now: int, policy: Policy, store: CodeStore, keyring: MacKeyring
) -> Answer:
    """Record the attempt in one write; accept a live, unused code at most once.

    Failed attempts are counted in the fixed windows the send limits use, the same for every
    user, and a code is dead after `maxVerifyAttempts` of them.
    """
    code = parse_code(body.code, policy.code_length)
    # The guess under every live key: a code in flight may predate a key rotation.
    guesses = [key.code_mac(body.user_id, code) for key in keyring.live()]
    limits = SendLimits.of(policy, now)
    attempt = store.attempt(body.user_id, guesses, limits)
    channel = attempt.channel
    if _wins(guesses, attempt, policy.max_verify_attempts, now):
        count(Metric.CODE_VERIFIED, channel)
        logger.info("verification approved", extra={"channel": channel})
        return Answer(200, {"status": "approved", "verified": True})
    entries = attempt.earlier
    if attempt.counted:
        entries = (*entries, Entry(now, frozenset(tag(guess) for guess in guesses)))
    used = used_index(entries, attempt.code_mac, policy.max_verify_attempts)
    failed = [
        entry
        for index, entry in enumerate(entries)
        if index != used and entry.at >= limits.window_start
    ]
    if len(failed) < policy.max_verify_attempts:
        count(Metric.VERIFY_FAILED, channel)
        logger.info("verification rejected", extra={"channel": channel, "attempts": len(failed)})
        raise InvalidCode
    this_failed = attempt.counted and used != len(entries) - 1
    if this_failed and len(failed) == policy.max_verify_attempts:
        count(Metric.LOCKED_OUT, channel)
        logger.warning("user locked out", extra={"channel": channel})
    else:
        count(Metric.VERIFY_FAILED, channel)
    # The window's lockout holds off a new code for the cooldown after it; request-token
    # accepts one by then (see `lockout_over`), and the time is the same for every user.
    locked_at = failed[policy.max_verify_attempts - 1].at
    raise TooManyAttempts(locked_at + policy.resend_cooldown_seconds - now)


def _wins(guesses: list[bytes], attempt: Attempt, max_attempts: int, now: int) -> bool:
    """Whether this attempt accepts the code: written, a match, live, unused, not locked out.

    The guesses are compared in constant time, against nothing when no code is pending, so an
    unknown user's verify takes as long as a known one's.
    """
    stored = attempt.code_mac if attempt.code_mac is not None else bytes(len(guesses[0]))
    same = [hmac.compare_digest(guess, stored) for guess in guesses]
    unused = used_index(attempt.earlier, attempt.code_mac, max_attempts) is None
    return (
        any(same)
        and attempt.counted
        and attempt.code_mac is not None
        and attempt.code_expires_at > now
        and not attempt.ended
        and unused
        and len(attempt.earlier) < max_attempts
    )


def cancel_token(body: CancelTokenBody, *, now: int, store: CodeStore) -> Answer:
    """Burn the user's pending code, if any; the answer is the same either way."""
    store.cancel(body.user_id, now)
    count(Metric.CODE_CANCELED, "unknown")
    return Answer(200, {"status": "canceled"})


def _checked_destination(
    body: RequestTokenBody, policy: Policy, sender: MessageSender
) -> tuple[str, int | None]:
    """The destination in canonical form and its calling code (None for email), once allowed."""
    if body.channel == "email":
        if not sender.email_enabled:
            raise InvalidRequest(FieldError("channel", "email delivery is not configured"))
        return normalize_email(body.destination), None
    if policy.is_test_destination(body.destination):
        # Test numbers are often fictional (+1 555 01xx) and never reach a carrier.
        return body.destination, None
    number = parse_phone_number(body.destination)
    if not policy.allows_calling_code(number.country_code or 0):
        count(Metric.DESTINATION_NOT_ALLOWED, "sms")
        raise DestinationNotAllowed(premium_rate=False)
    if is_premium_rate(number):
        count(Metric.DESTINATION_NOT_ALLOWED, "sms")
        raise DestinationNotAllowed(premium_rate=True)
    return format_e164(number), number.country_code


def _idempotency_digest(idempotency_key: str | None) -> str | None:
    """A digest naming the key, once it is 1-64 visible ASCII characters."""
    if idempotency_key is None:
        return None
    if not (1 <= len(idempotency_key) <= 64 and all("!" <= c <= "~" for c in idempotency_key)):
        raise InvalidRequest(FieldError("Idempotency-Key", "must be 1-64 visible ASCII characters"))
    return hashlib.sha256(idempotency_key.encode()).hexdigest()


def _fingerprint(body: RequestTokenBody, destination_mac: str) -> str:
    """What makes two requests with one `Idempotency-Key` the same, naming no destination."""
    fields = json.dumps([body.user_id, body.channel, destination_mac, body.locale])
    return hashlib.sha256(fields.encode()).hexdigest()


def _replay(store: CodeStore, key_digest: str, fingerprints: list[str], now: int) -> Answer:
    """The first answer given for this key, if the body is the same, with its times counted
    down to now (a replay 20 s later says the code expires 20 s sooner)."""
    stored = store.idempotent_answer(key_digest, now)
    if stored is None:
        # The record expired between our write and this read: a retry will start afresh.
        raise RateLimited(1)
    # The same body under any live key: a retry may straddle a key rotation.
    same = [hmac.compare_digest(stored.fingerprint, fingerprint) for fingerprint in fingerprints]
    if not any(same):
        raise IdempotencyKeyReused
    answer = json.loads(stored.answer)
    elapsed = max(0, now - int(answer.pop(_SENT_AT, now)))
    for seconds in ("expires_in", "resend_after"):
        answer[seconds] = max(0, int(answer[seconds]) - elapsed)
    return Answer(202, answer, {REPLAYED_HEADER: "true"})


def _release(
    store: CodeStore,
    pending: PendingCode,
    limits: SendLimits,
    key_digest: str | None,
    guard: SendGuard | None,
) -> None:
    """Undo a send that did not happen; failing that, the code simply expires unsent."""
    try:
        store.release_send(pending, limits, key_digest, guard)
    except Exception as error:  # noqa: BLE001 - the original failure is what the caller sees
        logger.error("could not undo an undelivered send", extra={"error": type(error).__name__})
