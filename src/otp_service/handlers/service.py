"""The business rules of request, verify and cancel, over typed bodies and a `Runtime`."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from .errors import DeliveryRejected, IdempotencyKeyTaken, RateLimited
from .http import ApiError, FieldError, invalid_request, retry_later
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
from .runtime import Runtime
from .store import Attempt, IdempotencyRecord, PendingCode, SendLimits


@dataclass(frozen=True)
class Answer:
    """A successful answer: its status and JSON body."""

    status: int
    body: dict[str, Any]


def generate_code(length: int) -> str:
    """A uniformly random code of `length` digits from the OS CSPRNG."""
    return f"{secrets.randbelow(10**length):0{length}d}"


def request_token(rt: Runtime, body: RequestTokenBody, idempotency_key: str | None) -> Answer:
    """Send a fresh code to the destination and make it the user's only pending code."""
    policy = rt.settings.policy
    destination = _checked_destination(rt, body)
    key_digest = _idempotency_digest(idempotency_key)
    limits = SendLimits.of(policy, rt.now())
    masked = mask_destination(body.channel, destination)
    accepted = {
        "status": "pending",
        "channel": body.channel,
        "destination": masked,
        "expires_in": policy.code_ttl_seconds,
        "resend_after": policy.resend_cooldown_seconds,
    }
    key = rt.keyring.current()
    code = generate_code(policy.code_length)
    pending = PendingCode(
        user_id=body.user_id,
        channel=body.channel,
        code_mac=key.code_mac(body.user_id, code),
        key_id=key.key_id,
        destination_mac=key.destination_mac(destination.lower()),
    )
    record = None
    if key_digest is not None:
        fingerprint = json.dumps([body.user_id, body.channel, pending.destination_mac, body.locale])
        record = IdempotencyRecord(
            key_digest, hashlib.sha256(fingerprint.encode()).hexdigest(), json.dumps(accepted)
        )
    try:
        rt.store.save_pending_code(pending, limits, record)
    except RateLimited as limited:
        count("RateLimited", body.channel)
        raise retry_later(
            429, "rate_limited", "Too many codes requested; try again later.", limited.retry_after
        ) from None
    except IdempotencyKeyTaken:
        assert record is not None
        return _replay(rt, record, limits.now)
    message = render(
        body.channel, body.locale, rt.settings.brand_name, code, policy.code_ttl_seconds
    )
    try:
        rt.sender.send(body.channel, destination, message)
    except DeliveryRejected:
        _release(rt, pending, limits, key_digest)
        count("DeliveryFailed", body.channel)
        logger.warning("delivery rejected", extra={"channel": body.channel, "masked": masked})
        raise ApiError(502, "delivery_failed", "The message could not be delivered.") from None
    except Exception:
        _release(rt, pending, limits, key_digest)
        raise
    count("CodeSent", body.channel)
    logger.info("message sent", extra={"channel": body.channel, "masked": masked})
    return Answer(202, accepted)


def verify_token(rt: Runtime, body: VerifyTokenBody) -> Answer:
    """Count the attempt, then accept the user's pending code at most once."""
    policy = rt.settings.policy
    code = parse_code(body.code, policy.code_length)
    now = rt.now()
    limits = SendLimits.of(policy, now)
    current = rt.keyring.current()  # derived at cold start, before an attempt is counted
    attempt = rt.store.count_attempt(body.user_id, limits)
    # The key that made the pending code, which after a rotation is not the current one.
    key = rt.keyring.version(attempt.key_id) if attempt.key_id else current
    guess = key.code_mac(body.user_id, code)
    if attempt.attempts <= policy.max_verify_attempts and _is_live_match(guess, attempt, now):
        channel = rt.store.redeem(body.user_id, guess, now)
        if channel is not None:
            count("CodeVerified", channel)
            logger.info("verification approved", extra={"channel": channel})
            return Answer(200, {"status": "approved", "verified": True})

    channel = attempt.channel
    if attempt.attempts < policy.max_verify_attempts:
        count("VerifyFailed", channel)
        logger.info(
            "verification rejected", extra={"channel": channel, "attempts": attempt.attempts}
        )
        raise ApiError(400, "invalid_code", "The code is invalid.", top_level={"verified": False})
    cooldown_until = attempt.cooldown_until
    if attempt.attempts == policy.max_verify_attempts:
        cooldown_until = now + policy.resend_cooldown_seconds
        rt.store.lock_out(body.user_id, cooldown_until)
        count("LockedOut", channel)
        logger.warning("user locked out", extra={"channel": channel})
    else:
        count("VerifyFailed", channel)
    raise retry_later(
        429,
        "too_many_attempts",
        "Too many failed attempts; request a new code.",
        cooldown_until - now,
        verified=False,
    )


def _is_live_match(guess: bytes, attempt: Attempt, now: int) -> bool:
    """Whether the guess is the live pending code, compared in constant time.

    With no code pending the comparison still runs, against nothing, so it takes as long.
    """
    stored = attempt.code_mac if attempt.code_mac is not None else bytes(len(guess))
    same = hmac.compare_digest(guess, stored)
    return same and attempt.code_mac is not None and attempt.code_expires_at > now


def cancel_token(rt: Runtime, body: CancelTokenBody) -> Answer:
    """Burn the user's pending code, if any; the answer is the same either way."""
    rt.store.cancel(body.user_id)
    count("CodeCanceled", "unknown")
    return Answer(200, {"status": "canceled"})


def _checked_destination(rt: Runtime, body: RequestTokenBody) -> str:
    """The destination in canonical form, once it is valid and allowed."""
    if body.channel == "email":
        if not rt.sender.email_enabled:
            raise invalid_request(FieldError("channel", "email delivery is not configured"))
        return normalize_email(body.destination)
    number = parse_phone_number(body.destination)
    if not rt.settings.policy.allows_calling_code(number.country_code or 0):
        count("DestinationNotAllowed", "sms")
        raise ApiError(
            403, "destination_not_allowed", "SMS to this destination's country is not allowed."
        )
    if is_premium_rate(number):
        count("DestinationNotAllowed", "sms")
        raise ApiError(
            403, "destination_not_allowed", "SMS to premium-rate numbers is not allowed."
        )
    return format_e164(number)


def _idempotency_digest(idempotency_key: str | None) -> str | None:
    """A digest naming the key, once it is 1-64 visible ASCII characters."""
    if idempotency_key is None:
        return None
    if not (1 <= len(idempotency_key) <= 64 and all("!" <= c <= "~" for c in idempotency_key)):
        raise invalid_request(
            FieldError("Idempotency-Key", "must be 1-64 visible ASCII characters")
        )
    return hashlib.sha256(idempotency_key.encode()).hexdigest()


def _replay(rt: Runtime, record: IdempotencyRecord, now: int) -> Answer:
    """The first answer given for this key, if the body is the same."""
    stored = rt.store.idempotent_answer(record.key_digest, now)
    if stored is None:
        # The record expired between our write and this read: a retry will start afresh.
        raise retry_later(429, "rate_limited", "Try again.", 1)
    if not hmac.compare_digest(stored.fingerprint, record.fingerprint):
        raise ApiError(
            422, "idempotency_key_reused", "This Idempotency-Key was used with a different body."
        )
    return Answer(202, json.loads(stored.answer))


def _release(rt: Runtime, pending: PendingCode, limits: SendLimits, key_digest: str | None) -> None:
    """Undo a send that did not happen; failing that, the code simply expires unsent."""
    try:
        rt.store.release_send(pending, limits, key_digest)
    except Exception as error:  # noqa: BLE001 - the original failure is what the caller sees
        logger.error("could not undo an undelivered send", extra={"error": type(error).__name__})
