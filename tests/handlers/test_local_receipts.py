"""otp-local's simulated receipts: due on the local clock, in shapes the receipts function reads."""

from __future__ import annotations

import logging
from typing import Any

from otp_service.handlers.lifecycle import Delivery
from otp_service.handlers.receipts import Receipt, SentMessage, read_event
from otp_service.local.receipts import RECEIPT_DELAY_SECONDS, ReceiptSimulator, ReceiptWiring
from otp_service.local.routes import FunctionSpec
from tests.support.moto_service import FakeClock

RECEIPTS = FunctionSpec("receipts-fn", "arn:receipts-fn", "handlers.receipts.handler", {}, 256)
VF = "vf_" + "k" * 32


def simulator(clock: FakeClock) -> tuple[ReceiptSimulator, list[tuple[str, dict[str, Any]]]]:
    invoked: list[tuple[str, dict[str, Any]]] = []
    wiring = ReceiptWiring(email=RECEIPTS, sms=RECEIPTS, sent_lines=RECEIPTS)
    return ReceiptSimulator(wiring, lambda f, e: invoked.append((f, e)), clock), invoked


def sent_line(channel: str, message_id: str) -> logging.LogRecord:
    record = logging.LogRecord("otp", logging.INFO, __file__, 1, "message sent", None, None)
    record.__dict__.update(channel=channel, message_id=message_id, verification_id=VF)
    return record


def received(invoked: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    return [item for _, event in invoked for item in read_event(event)[0]]


def test_an_sms_receipt_is_due_only_after_the_delay_and_follows_its_sent_line() -> None:
    clock = FakeClock()
    receipts, invoked = simulator(clock)
    receipts.captured("sms", "+14155550123", "m-1")
    receipts.emit(sent_line("sms", "m-1"))
    assert receipts.deliver_due() == 1
    assert received(invoked) == [SentMessage("m-1", VF)]
    clock.advance(RECEIPT_DELAY_SECONDS - 0.1)
    assert receipts.deliver_due() == 0
    clock.advance(0.1)
    assert receipts.deliver_due() == 1
    [_, receipt] = received(invoked)
    assert isinstance(receipt, Receipt)
    assert (receipt.message_id, receipt.delivery) == ("m-1", Delivery.DELIVERED)


def test_the_bouncing_address_gets_a_bounce_naming_its_verification() -> None:
    clock = FakeClock()
    receipts, invoked = simulator(clock)
    receipts.captured("email", "bounce@simulator.amazonses.com", "e-1")
    receipts.emit(sent_line("email", "e-1"))
    clock.advance(RECEIPT_DELAY_SECONDS)
    receipts.deliver_due()
    [receipt] = received(invoked)
    assert isinstance(receipt, Receipt)
    assert (receipt.verification_id, receipt.delivery) == (VF, Delivery.FAILED)


def test_a_line_for_a_message_the_emulator_never_sent_schedules_nothing() -> None:
    clock = FakeClock()
    receipts, invoked = simulator(clock)
    receipts.emit(sent_line("sms", "never-captured"))
    clock.advance(RECEIPT_DELAY_SECONDS)
    assert receipts.deliver_due() == 0
    assert invoked == []
