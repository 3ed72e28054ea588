"""No code, full phone number or full email address reaches a log line, a metric or an error."""

from __future__ import annotations

import io
import logging
import re

import pytest

from otp_service.handlers.observability import logger

from .conftest import Reply, Service

PHONE = "+14155550199"
EMAIL = "secret.person@example.org"


def test_no_flow_writes_a_code_phone_number_or_email_address_anywhere(
    service: Service, capfd: pytest.CaptureFixture[str]
) -> None:
    log = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(log)
    try:
        _every_flow(service, capfd, log)
    finally:
        handler.setStream(previous)


def _every_flow(service: Service, capfd: pytest.CaptureFixture[str], log: io.StringIO) -> None:
    replies: list[Reply] = []
    replies.append(service.request(user_id="u1", destination=PHONE))
    replies.append(service.verify(service.last_code(), user_id="u1"))
    replies.append(service.request(user_id="u2", channel="email", destination=EMAIL))
    email_code = service.last_code()
    replies.extend(service.verify("000000", user_id="u2") for _ in range(6))
    replies.append(service.verify(email_code, user_id="u2"))
    replies.append(
        service.request(user_id="u3", destination=PHONE, headers={"Idempotency-Key": "k"})
    )
    replies.append(
        service.request(user_id="u3", destination=PHONE, headers={"Idempotency-Key": "k"})
    )
    replies.append(service.cancel("u3"))
    replies.append(service.request(user_id="u4", destination="+447911123456"))
    replies.append(service.request(user_id="u5", channel="email", destination=EMAIL + "@"))
    replies.append(service.request(user_id="u6", destination="+1415555019"))
    for operation, code, status in [
        ("sns.Publish", "InvalidParameter", 400),
        ("sns.Publish", "Throttling", 400),
        ("ses.SendEmail", "MessageRejected", 400),
        ("dynamodb.TransactWriteItems", "AccessDeniedException", 400),
        ("kms.GenerateMac", "KMSInternalException", 500),
    ]:
        # Providers quote the destination in their messages; those must not be logged.
        service.fail(operation, code, status, message=f"bad destination {PHONE} {EMAIL}")
        service.clock.advance(3600)
        replies.append(service.request(user_id="u7", destination=PHONE))
        replies.append(service.request(user_id="u8", channel="email", destination=EMAIL))
        service.heal()
    codes = service.codes_sent()
    assert email_code in codes
    output = capfd.readouterr()
    written = (
        log.getvalue()
        + output.out
        + output.err
        + "".join(str(r.body) + str(r.headers) for r in replies)
    )
    assert "message sent" in written and "unexpected error" in written, "logs were not captured"
    for secret in [PHONE, PHONE.lstrip("+"), EMAIL, EMAIL + "@", "+1415555019"]:
        assert secret not in written
    for code in codes:
        # A code is a whole number; it may turn up by chance inside a longer one (a timestamp).
        assert not re.search(rf"(?<![0-9]){code}(?![0-9])", written)
