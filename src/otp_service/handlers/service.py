"""The business rules of request, verify and cancel, over typed bodies and their collaborators.

Each rule raises the domain's errors (`errors.py`); the handler shell maps them to answers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from .delivery import MessageSender
from .errors import (
    DeliveryFailed,
    DestinationNotAllowed,
    FieldError,
    IdempotencyKeyReused,
    IdempotencyKeyTaken,
    InvalidCode,
    InvalidRequest,
    RateLimited,
    TooManyAttempts,
)
from .keys import MacKeyring
from .masking import mask_destination
from .messages import render
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
from .observability import count, logger
from .settings import Policy
from .store import Attempt, IdempotencyRecord, PendingCode, SendLimits


class CodeStore(Protocol):
    """What the rules need from the table (`store.OtpStore`; an in-memory fake in unit tests)."""

    def save_pending_code(
        self, code: PendingCode, limits: SendLimits, record: IdempotencyRecord | None
    ) -> None: ...

    def release_send(
        self, code: PendingCode, limits: SendLimits, key_digest: str | None
    ) -> None: ...

    def idempotent_answer(self, key_digest: str, now: int) -> IdempotencyRecord | None: ...

    def attempt(
        self, user_id: str, guesses: list[bytes], limits: SendLimits, max_attempts: int
    ) -> Attempt: ...

    def cancel(self, user_id: str) -> None: ...


@dataclass(frozen=True)
class Answer:
    """A successful answer: its status and JSON body."""

    status: int
    body: dict[str, Any]


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
) -> Answer:
    """Send a fresh code to the destination and make it the user's only pending code."""
    destination = _checked_destination(body, policy, sender)
    key_digest = _idempotency_digest(idempotency_key)
    limits = SendLimits.of(policy, now)
    masked = mask_destination(body.channel, destination)
    accepted = {
        "status": "pending",
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
    pending = PendingCode(
        user_id=body.user_id,
        channel=body.channel,
        code_mac=key.code_mac(body.user_id, code),
        destination_mac=names[0],
        retired_destination_macs=tuple(names[1:]),
    )
    fingerprints = [_fingerprint(body, name) for name in names]
    record = None
    if key_digest is not None:
        record = IdempotencyRecord(key_digest, fingerprints[0], json.dumps(accepted))
    try:
        store.save_pending_code(pending, limits, record)
    except RateLimited:
        count("RateLimited", body.channel)
        raise
    except IdempotencyKeyTaken:
        assert record is not None
        return _replay(store, record.key_digest, fingerprints, limits.now)
    if test_code is not None:
        count("TestCodePended", body.channel)
        logger.info("test destination, nothing sent", extra={"channel": body.channel})
        return Answer(202, accepted)
    message = render(body.channel, body.locale, brand_name, code, policy.code_ttl_seconds)
    try:
        sender.send(body.channel, destination, message)
    except DeliveryFailed:
        _release(store, pending, limits, key_digest)
        count("DeliveryFailed", body.channel)
        logger.warning("delivery rejected", extra={"channel": body.channel, "masked": masked})
        raise
    except Exception:
        _release(store, pending, limits, key_digest)
        raise
    count("CodeSent", body.channel)
    logger.info("message sent", extra={"channel": body.channel, "masked": masked})
    return Answer(202, accepted)


def verify_token(
    body: VerifyTokenBody, *, now: int, policy: Policy, store: CodeStore, keyring: MacKeyring
) -> Answer:
    """Record the attempt and burn the guess in one write; accept a live match at most once.

    Attempts are counted in the fixed windows the send limits use, the same for every user.
    """
    code = parse_code(body.code, policy.code_length)
    # The guess under every live key: a code in flight may predate a key rotation.
    guesses = [key.code_mac(body.user_id, code) for key in keyring.live()]
    limits = SendLimits.of(policy, now)
    attempt = store.attempt(body.user_id, guesses, limits, policy.max_verify_attempts)
    channel = attempt.channel
    if attempt.counted and _is_live_match(guesses, attempt, now):
        count("CodeVerified", channel)
        logger.info("verification approved", extra={"channel": channel})
        return Answer(200, {"status": "approved", "verified": True})
    window_start = limits.window * policy.send_window_seconds
    in_window = [at for at in attempt.attempted_at if at >= window_start]
    if attempt.code_used:
        in_window = in_window[1:]  # the attempt that accepted the code was no failure
    if len(in_window) < policy.max_verify_attempts:
        count("VerifyFailed", channel)
        logger.info("verification rejected", extra={"channel": channel, "attempts": len(in_window)})
        raise InvalidCode
    locked_at = in_window[policy.max_verify_attempts - 1]
    if attempt.counted and len(in_window) == policy.max_verify_attempts:
        count("LockedOut", channel)
        logger.warning("user locked out", extra={"channel": channel})
    else:
        count("VerifyFailed", channel)
    # A lockout holds off a new code for the resend cooldown, as a request would.
    raise TooManyAttempts(locked_at + policy.resend_cooldown_seconds - now)


def _is_live_match(guesses: list[bytes], attempt: Attempt, now: int) -> bool:
    """Whether a guess was the live pending code, compared in constant time.

    With no code pending the comparisons still run, against nothing, so they take as long.
    """
    stored = attempt.code_macs or frozenset({bytes(len(guesses[0]))})
    same = [hmac.compare_digest(guess, mac) for guess in guesses for mac in stored]
    return any(same) and bool(attempt.code_macs) and attempt.code_expires_at > now


def cancel_token(body: CancelTokenBody, *, store: CodeStore) -> Answer:
    """Burn the user's pending code, if any; the answer is the same either way."""
    store.cancel(body.user_id)
    count("CodeCanceled", "unknown")
    return Answer(200, {"status": "canceled"})


def _checked_destination(body: RequestTokenBody, policy: Policy, sender: MessageSender) -> str:
    """The destination in canonical form, once it is valid and allowed."""
    if body.channel == "email":
        if not sender.email_enabled:
            raise InvalidRequest(FieldError("channel", "email delivery is not configured"))
        return normalize_email(body.destination)
    if policy.is_test_destination(body.destination):
        # Test numbers are often fictional (+1 555 01xx) and never reach a carrier.
        return body.destination
    number = parse_phone_number(body.destination)
    if not policy.allows_calling_code(number.country_code or 0):
        count("DestinationNotAllowed", "sms")
        raise DestinationNotAllowed(premium_rate=False)
    if is_premium_rate(number):
        count("DestinationNotAllowed", "sms")
        raise DestinationNotAllowed(premium_rate=True)
    return format_e164(number)


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
    """The first answer given for this key, if the body is the same under any live key."""
    stored = store.idempotent_answer(key_digest, now)
    if stored is None:
        # The record expired between our write and this read: a retry will start afresh.
        raise RateLimited(1)
    same = [hmac.compare_digest(stored.fingerprint, f) for f in fingerprints]
    if not any(same):
        raise IdempotencyKeyReused
    return Answer(202, json.loads(stored.answer))


def _release(
    store: CodeStore, pending: PendingCode, limits: SendLimits, key_digest: str | None
) -> None:
    """Undo a send that did not happen; failing that, the code simply expires unsent."""
    try:
        store.release_send(pending, limits, key_digest)
    except Exception as error:  # noqa: BLE001 - the original failure is what the caller sees
        logger.error("could not undo an undelivered send", extra={"error": type(error).__name__})
