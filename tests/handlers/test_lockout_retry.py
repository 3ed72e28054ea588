"""A lockout's `retry_after` is exactly when request-token accepts the next request."""

from __future__ import annotations

from tests.support.moto_service import Service


def test_a_lockout_s_retry_after_is_when_a_new_code_is_accepted(service: Service) -> None:
    assert service.request().status == 202
    service.clock.advance(service.settings.policy.resend_cooldown_seconds)
    length = service.settings.policy.code_length
    wrong = "1" * length if service.last_code() != "1" * length else "2" * length
    reply = service.verify(wrong)
    while reply.status == 400:
        reply = service.verify(wrong)
    assert reply.status == 429
    retry_after = reply.body["error"]["retry_after"]
    assert reply.headers["Retry-After"] == str(retry_after)
    service.clock.advance(retry_after - 1)
    early = service.request()
    assert early.status == 429
    assert early.body["error"]["retry_after"] == 1
    service.clock.advance(1)
    assert service.request().status == 202
