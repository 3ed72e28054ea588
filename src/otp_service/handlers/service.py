"""The business rules of verify and cancel, and the answer every rule gives.

Each rule raises the domain's errors (`errors.py`); the handler shell maps them to answers.
request-token's rule is `sending.py`: it alone needs Fraud Guard, the messages and the senders,
and verify's and cancel's cold starts do not pay for them (`tests/unit/test_cold_start.py`).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .attempts import Entry, tag, used_index
from .errors import InvalidCode, TooManyAttempts
from .metric_names import Metric
from .models import parse_code
from .observability import count, logger
from .store import Attempt, SendLimits

if TYPE_CHECKING:
    from .keys import MacKeyring
    from .models import CancelTokenBody, VerifyTokenBody
    from .settings import Policy


class CodeStore(Protocol):
    """What verify and cancel need from the table (`store.OtpStore`; a fake in unit tests)."""

    def attempt(self, user_id: str, guesses: list[bytes], limits: SendLimits) -> Attempt: ...

    def cancel(self, user_id: str, now: int) -> None: ...


@dataclass(frozen=True)
class Answer:
    """A successful answer: its status, JSON body and any extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


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
