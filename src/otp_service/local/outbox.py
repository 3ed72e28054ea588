"""Every SMS and email the emulator accepted, printed and kept for `GET /_local/outbox`."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class CapturedMessage:
    """One message as it would have reached a phone or a mailbox; local only, unmasked."""

    channel: str
    destination: str
    body: str
    sent_at: str
    subject: str | None = None
    """An email's subject (email only)."""
    sender: str | None = None
    """An email's From address (email only)."""


class Outbox:
    """The captured messages, oldest first."""

    def __init__(self, announce: Callable[[CapturedMessage], None] | None = None) -> None:
        self._messages: list[CapturedMessage] = []
        self._lock = threading.Lock()
        self._announce = announce

    def add(
        self,
        channel: str,
        destination: str,
        body: str,
        subject: str | None = None,
        sender: str | None = None,
    ) -> None:
        """Keep one delivered message and announce it."""
        sent_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        message = CapturedMessage(channel, destination, body, sent_at, subject, sender)
        with self._lock:
            self._messages.append(message)
        if self._announce is not None:
            self._announce(message)

    def messages(self) -> list[dict[str, str]]:
        """The messages as JSON objects, oldest first."""
        with self._lock:
            return [{k: v for k, v in asdict(m).items() if v is not None} for m in self._messages]

    def clear(self) -> None:
        """Forget every message."""
        with self._lock:
            self._messages.clear()


class EventLog:
    """Every message published to a topic (the lifecycle events), oldest first, as published."""

    def __init__(self) -> None:
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, message: str) -> None:
        """Keep one published message (a JSON object)."""
        event = json.loads(message)
        with self._lock:
            self._events.append(event)

    def events(self) -> list[dict[str, Any]]:
        """The events, oldest first."""
        with self._lock:
            return list(self._events)


Sent = Callable[[str, str, str], None]
"""Told of each accepted message: its channel, destination and the provider's message id."""


def capture_deliveries(outbox: Outbox, events: EventLog, sent: Sent | None = None) -> None:
    """Copy every SMS moto's SNS and every email moto's SES accepts into `outbox`, and every
    message published to a topic into `events`; tell `sent` of each SMS and email.

    The emulator's own send paths are wrapped, so only what the provider accepted is captured:
    a rejected send raises before the copy is made.
    """
    from moto.ses.models import SESBackend  # noqa: PLC0415 - moto loads slowly
    from moto.sns.models import SNSBackend  # noqa: PLC0415

    publish = getattr(SNSBackend.publish, "__wrapped__", SNSBackend.publish)
    send_email = getattr(SESBackend.send_email, "__wrapped__", SESBackend.send_email)

    @functools.wraps(publish)
    def captured_publish(backend: Any, message: str, *args: Any, **kwargs: Any) -> Any:
        message_id = publish(backend, message, *args, **kwargs)
        phone_number = kwargs.get("phone_number") or (args[1] if len(args) > 1 else None)
        if phone_number:
            outbox.add("sms", phone_number, message)
            if sent is not None:
                sent("sms", phone_number, message_id)
        elif kwargs.get("arn") or args:
            events.add(message)
        return message_id

    @functools.wraps(send_email)
    def captured_send_email(backend: Any, *args: Any, **kwargs: Any) -> Any:
        accepted = send_email(backend, *args, **kwargs)
        for addresses in accepted.destinations.values():
            for address in addresses:
                outbox.add("email", address, accepted.body, accepted.subject, accepted.source)
                if sent is not None:
                    sent("email", address, accepted.id)
        return accepted

    SNSBackend.publish = captured_publish  # type: ignore[method-assign,assignment]
    SESBackend.send_email = captured_send_email  # type: ignore[method-assign,assignment]
