"""request-token's rule: a fresh code, stored only as its MAC, sent by SMS or email.

Apart from verify's and cancel's (`service.py`): only this rule needs Fraud Guard, the messages,
the senders and the phone number metadata.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import TYPE_CHECKING, Protocol

from .errors import (
    DeliveryFailed,
    DestinationBlocked,
    DestinationNotAllowed,
    FieldError,
    IdempotencyKeyReused,
    IdempotencyKeyTaken,
    InvalidRequest,
    RateLimited,
)
from .fraud import NumberPrefixes
from .fraud_store import SendGuard
from .lifecycle import new_verification_id
from .masking import mask_destination
from .messages import NO_AUTOFILL, Autofill, render
from .metric_names import Metric
from .models import format_e164, is_premium_rate, normalize_email, parse_phone_number
from .observability import SENT_LOG_MESSAGE, count, logger
from .service import Answer
from .store import IdempotencyRecord, PendingCode, SendLimits

if TYPE_CHECKING:
    from .delivery import MessageSender
    from .fraud import FraudPolicy
    from .keys import MacKeyring
    from .models import RequestTokenBody
    from .settings import Policy


class SendStore(Protocol):
    """What request-token needs from the table (`store.OtpStore`; a fake in unit tests)."""

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

    def is_proven_handset(self, handset_macs: tuple[str, ...], now: int) -> bool: ...


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
    store: SendStore,
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
        handset_macs=tuple(
            live.handset_mac(body.user_id, destination.lower()) for live in (key, *retired)
        ),
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
        guard = _save_guarded(store, pending, limits, record, guard)
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


def _save_guarded(
    store: SendStore,
    pending: PendingCode,
    limits: SendLimits,
    record: IdempotencyRecord | None,
    guard: SendGuard | None,
) -> SendGuard | None:
    """Save the pending code past Fraud Guard; the guard it passed.

    A number on which this user verified a code before is their handset, not a pumped one: a
    range block spares it for them (its budgets still apply), and for no other account. Only a
    refused send pays for finding out.
    """
    try:
        store.save_pending_code(pending, limits, record, guard)
    except DestinationBlocked as blocked:
        spared = guard.sparing_ranges() if guard is not None else None
        if spared is None or blocked.budget_spent:
            raise
        if not store.is_proven_handset(pending.handset_macs, limits.now):
            raise
        store.save_pending_code(pending, limits, record, spared)
        return spared
    return guard


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


def _replay(store: SendStore, key_digest: str, fingerprints: list[str], now: int) -> Answer:
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
    store: SendStore,
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
