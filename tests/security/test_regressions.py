"""Bugs this suite found in the handlers, each pinned by the smallest test that shows it."""

from __future__ import annotations

import json

import pytest

from otp_service.handlers.settings import Policy
from tests.support.moto_service import Service


def test_an_unknown_field_named_like_a_code_phone_or_email_is_not_echoed(
    service: Service,
) -> None:
    """Unknown field names are the caller's text; only plain identifiers come back."""
    body = {"user_id": "a", "123456": 1, "+14155550123": 2, "bob@example.com": 3, "extra": 4}
    reply = service.call("/cancel-token", body)
    assert reply.status == 400
    text = json.dumps(reply.body)
    assert not any(secret in text for secret in ("123456", "+14155550123", "bob@example.com"))
    assert reply.body["error"]["fields"] == [
        {"field": "body", "message": "has a field that is not known"},
        {"field": "body", "message": "has a field that is not known"},
        {"field": "body", "message": "has a field that is not known"},
        {"field": "extra", "message": "is not a known field"},
    ]


@pytest.mark.parametrize("policy", [Policy(send_window_seconds=60, code_ttl_seconds=300)])
def test_a_code_outliving_the_attempt_window_is_still_accepted(service: Service) -> None:
    """Attempts are counted before the code is compared; their window must not burn the code."""
    service.request()
    service.clock.advance(120)
    assert service.verify(service.last_code()).status == 200
