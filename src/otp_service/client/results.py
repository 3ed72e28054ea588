"""What a successful call answers, as typed values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PendingVerification:
    """202 from request-token: a code is on its way."""

    channel: str
    destination: str
    """Masked, as the service returns it (`+1415******23`)."""
    expires_in: int
    resend_after: int
    idempotency_key: str
    """The key this request was sent with; send it again to repeat the request safely."""
    verification_id: str | None = None
    """The verification's id (contract v1.1); None from a service that does not send one."""
    replayed: bool = False
    """True when the service answered from an earlier request with the same key."""

    @classmethod
    def from_answer(
        cls, body: dict[str, Any], idempotency_key: str, replayed: bool
    ) -> PendingVerification:
        return cls(
            channel=str(body["channel"]),
            destination=str(body["destination"]),
            expires_in=int(body["expires_in"]),
            resend_after=int(body["resend_after"]),
            idempotency_key=idempotency_key,
            verification_id=body.get("verification_id"),
            replayed=replayed,
        )


@dataclass(frozen=True)
class Approval:
    """200 from verify-token: the code was right, and it is now used up."""

    verified: bool = True


@dataclass(frozen=True)
class Cancellation:
    """200 from cancel-token: no code is pending for the user any more."""

    status: str = "canceled"


@dataclass(frozen=True)
class Verification:
    """200 from `GET /verifications/{id}`: one verification's state."""

    verification_id: str
    user_id: str
    status: str
    channel: str
    destination: str
    delivery: str
    created_at: str | None = None
    expires_at: str | None = None

    @classmethod
    def from_answer(cls, body: dict[str, Any]) -> Verification:
        return cls(
            verification_id=str(body["verification_id"]),
            user_id=str(body["user_id"]),
            status=str(body["status"]),
            channel=str(body["channel"]),
            destination=str(body["destination"]),
            delivery=str(body.get("delivery", "unknown")),
            created_at=body.get("created_at"),
            expires_at=body.get("expires_at"),
        )
