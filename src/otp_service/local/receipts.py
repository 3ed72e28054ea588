"""Simulated delivery receipts, delivered the way the program wires them in the cloud.

The program says which receipts exist: an SES configuration-set event destination publishing
to a topic the receipts function subscribes to (email), and log subscription filters from the
SMS delivery-status groups and from request-token's log group to that function (SMS). For each
message the emulator captured, a receipt in the provider's own shape reaches the function
`RECEIPT_DELAY_SECONDS` later on the local clock: `delivered`, or `failed` for the documented
`FAILING_DESTINATIONS`. request-token's sent lines reach it as its log subscription would
deliver them, so SMS receipts are paired with their verification exactly as in the cloud.
"""

from __future__ import annotations

import base64
import gzip
import heapq
import itertools
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..components.receipts import SENT_LINE_FILTER, SMS_STATUS_FILTER
from ..handlers.observability import SENT_LOG_MESSAGE, logger
from .provision import LAMBDA_FUNCTION, Deployment
from .routes import FunctionSpec, function_spec

RECEIPT_DELAY_SECONDS = 2.0
"""How long after a send its receipt arrives locally (in the cloud: seconds to 72 hours)."""

FAILING_DESTINATIONS = frozenset({"+12065550199", "bounce@simulator.amazonses.com"})
"""Destinations whose messages get a failure receipt locally. The address is SES's mailbox
simulator, which bounces in the cloud too."""

POLL_INTERVAL_SECONDS = 0.05

SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
EVENT_DESTINATION = "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination"
LOG_SUBSCRIPTION = "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter"

Invoke = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True)
class ReceiptWiring:
    """Which function gets which receipts, as the program declares it."""

    email: FunctionSpec | None
    sms: FunctionSpec | None
    sent_lines: FunctionSpec | None


def receipt_wiring(deployment: Deployment) -> ReceiptWiring:
    """The program's receipt sources and the functions they invoke."""
    functions: dict[str, FunctionSpec] = {}
    for declared in deployment.of_type(LAMBDA_FUNCTION):
        spec = function_spec(declared)
        functions[spec.arn] = functions[spec.name] = spec

    def target(arn: str) -> FunctionSpec | None:
        return functions.get(arn) or functions.get(arn.rsplit(":", 1)[0])

    subscribed = {
        str(s.state["topic"]): target(str(s.state["endpoint"]))
        for s in deployment.of_type(SUBSCRIPTION)
        if s.state.get("protocol") == "lambda"
    }
    email = None
    for destination in deployment.of_type(EVENT_DESTINATION):
        settings = destination.state.get("eventDestination") or {}
        topic = (settings.get("snsDestination") or {}).get("topicArn")
        if settings.get("enabled") and topic in subscribed:
            email = subscribed[topic]
    by_pattern: dict[str, FunctionSpec | None] = {}
    for log_filter in deployment.of_type(LOG_SUBSCRIPTION):
        pattern = str(log_filter.state.get("filterPattern"))
        by_pattern[pattern] = target(str(log_filter.state["destinationArn"]))
    return ReceiptWiring(email, by_pattern.get(SMS_STATUS_FILTER), by_pattern.get(SENT_LINE_FILTER))


def _timestamp(epoch: float, sep: str) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    text = moment.isoformat(sep=sep, timespec="milliseconds").removesuffix("+00:00")
    return text + "Z" if sep == "T" else text


def log_delivery(entries: list[Mapping[str, Any]]) -> dict[str, Any]:
    """A CloudWatch Logs subscription's invocation: gzipped, base64, one event per entry."""
    payload = {
        "messageType": "DATA_MESSAGE",
        "logEvents": [
            {"id": str(i), "timestamp": 0, "message": json.dumps(entry)}
            for i, entry in enumerate(entries)
        ],
    }
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(payload).encode()))}}


def sms_status(message_id: str, destination: str, failed: bool, at: float) -> dict[str, Any]:
    """An SNS SMS delivery-status log entry (full number included, as SNS writes it)."""
    return {
        "notification": {"messageId": message_id, "timestamp": _timestamp(at, " ")},
        "delivery": {
            "destination": destination,
            "smsType": "Transactional",
            "providerResponse": "Unknown error" if failed else "Message has been accepted",
        },
        "status": "FAILURE" if failed else "SUCCESS",
    }


def ses_event(message_id: str, verification_id: str, failed: bool, at: float) -> dict[str, Any]:
    """An SES configuration-set event inside the SNS record that carries it."""
    kind = "Bounce" if failed else "Delivery"
    detail = {"timestamp": _timestamp(at, "T")}
    if failed:
        detail["bounceType"] = "Permanent"
    event = {
        "eventType": kind,
        "mail": {
            "timestamp": _timestamp(at - RECEIPT_DELAY_SECONDS, "T"),
            "messageId": message_id,
            "tags": {"verification_id": [verification_id]},
        },
        kind.lower(): detail,
    }
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(event)}}]}


@dataclass(frozen=True)
class _Captured:
    channel: str
    destination: str


class ReceiptSimulator(logging.Handler):
    """Hears each captured send and each sent line, and delivers their receipts when due."""

    def __init__(self, wiring: ReceiptWiring, invoke: Invoke, clock: Callable[[], float]) -> None:
        super().__init__()
        self._wiring = wiring
        self._invoke = invoke
        self._clock = clock
        self._captured: dict[str, _Captured] = {}
        self._due: list[tuple[float, int, str, dict[str, Any]]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="otp-local-receipts", daemon=True)

    def captured(self, channel: str, destination: str, message_id: str) -> None:
        """The emulator accepted a message (called from the outbox's capture)."""
        with self._lock:
            self._captured[message_id] = _Captured(channel, destination)

    def emit(self, record: logging.LogRecord) -> None:
        """A log line: request-token's sent line names the verification of a captured send."""
        if record.getMessage() != SENT_LOG_MESSAGE:
            return
        message_id = getattr(record, "message_id", "")
        verification_id = getattr(record, "verification_id", "")
        with self._lock:
            sent = self._captured.pop(message_id, None)
        if sent is None:
            return
        due = self._clock() + RECEIPT_DELAY_SECONDS
        failed = sent.destination.lower() in FAILING_DESTINATIONS
        if sent.channel == "email" and self._wiring.email is not None:
            self._schedule(
                due, self._wiring.email, ses_event(message_id, verification_id, failed, due)
            )
        if sent.channel == "sms" and self._wiring.sms is not None:
            if self._wiring.sent_lines is not None:
                line = {
                    "message": SENT_LOG_MESSAGE,
                    "channel": "sms",
                    "message_id": message_id,
                    "verification_id": verification_id,
                }
                self._schedule(self._clock(), self._wiring.sent_lines, log_delivery([line]))
            status = sms_status(message_id, sent.destination, failed, due)
            self._schedule(due, self._wiring.sms, log_delivery([status]))

    def _schedule(self, due: float, function: FunctionSpec, event: dict[str, Any]) -> None:
        with self._lock:
            heapq.heappush(self._due, (due, next(self._order), function.name, event))

    def deliver_due(self) -> int:
        """Invoke the function with every receipt due by the local clock; how many."""
        delivered = 0
        while True:
            with self._lock:
                if not self._due or self._due[0][0] > self._clock():
                    return delivered
                _, _, function, event = heapq.heappop(self._due)
            try:
                self._invoke(function, event)
            except Exception as error:  # noqa: BLE001 - Lambda would retry, then dead-letter
                print(f"otp-local: receipt not recorded: {type(error).__name__}", flush=True)
            delivered += 1

    def start(self) -> None:
        """Listen to the handlers' log lines and deliver receipts on a thread of its own."""
        logging.getLogger(logger.name).addHandler(self)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and delivering."""
        logging.getLogger(logger.name).removeHandler(self)
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(POLL_INTERVAL_SECONDS):
            self.deliver_due()
