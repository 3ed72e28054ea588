"""SMS pumping: one number through many user ids, many numbers for one user, other countries."""

from __future__ import annotations

import pytest

from otp_service.handlers.settings import Policy
from tests.support.moto_service import Service

from .contract import snapshot

WINDOW = 3600


def _window_start(service: Service) -> None:
    service.clock.now = WINDOW * 500_000 + 1


def test_one_number_through_twenty_user_ids_gets_five_messages(service: Service) -> None:
    _window_start(service)
    replies = [service.request(user_id=f"pump-{n}") for n in range(20)]
    assert [r.status for r in replies] == [202] * 5 + [429] * 15
    assert {r.body["error"]["retry_after"] for r in replies[5:]} == {WINDOW - 1}
    assert len(service.sms()) == 5


def test_twenty_numbers_for_one_user_get_five_messages(service: Service) -> None:
    _window_start(service)
    statuses = []
    for n in range(20):
        statuses.append(
            service.request(user_id="pump", destination=f"+1415555{n + 100:04d}").status
        )
        service.clock.advance(30)
    assert statuses == [202] * 5 + [429] * 15
    assert len(service.sms()) == 5


def test_requests_inside_the_cooldown_send_nothing(service: Service) -> None:
    _window_start(service)
    statuses = [service.request(user_id="pump").status for _ in range(10)]
    service.clock.advance(29)
    statuses.append(service.request(user_id="pump").status)
    assert statuses == [202] + [429] * 10
    assert len(service.sms()) == 1


@pytest.mark.parametrize(
    "number",
    ["+447911123456", "+919812345678", "+2348031234567", "+79161234567", "+5511912345678"],
)
def test_a_country_outside_the_list_is_403_and_touches_nothing(
    service: Service, number: str
) -> None:
    before = snapshot(service)
    reply = service.request(destination=number)
    assert (reply.status, reply.body["error"]["code"]) == (403, "destination_not_allowed")
    assert snapshot(service) == before
    assert number not in str(reply.body) and number[-4:] not in str(reply.body)


@pytest.mark.parametrize("policy", [Policy(allowed_country_codes=("44",))])
def test_the_allowed_list_is_the_only_way_out(service: Service) -> None:
    assert service.request(user_id="a", destination="+14155550123").status == 403
    assert service.request(user_id="b", destination="+447911123456").status == 202
    assert [phone for phone, _ in service.sms()] == ["+447911123456"]


def test_calling_code_1_admits_other_nanp_countries(service: Service) -> None:
    """Residual risk, pinned: "1" is a calling code, not a country (see SECURITY.md)."""
    assert service.request(destination="+18765550123").status == 202


def test_a_premium_rate_number_in_an_allowed_country_is_refused(service: Service) -> None:
    assert service.request(destination="+19002345678").status == 403
    assert service.sms() == []


def test_an_email_address_in_other_case_counts_as_the_same_destination(service: Service) -> None:
    _window_start(service)
    variants = ["Jane@Example.com", "jane@example.com", "JANE@EXAMPLE.COM", "jAne@example.COM"]
    statuses = [
        service.request(user_id=f"pump-{n}", channel="email", destination=variants[n % 4]).status
        for n in range(8)
    ]
    assert statuses == [202] * 5 + [429] * 3
    assert len(service.emails()) == 5


@pytest.mark.parametrize("policy", [Policy(max_sends_per_window=2, resend_cooldown_seconds=0)])
def test_the_send_limit_follows_the_policy(service: Service) -> None:
    _window_start(service)
    statuses = [service.request(user_id=f"pump-{n}").status for n in range(4)]
    statuses += [
        service.request(user_id="solo", destination="+14155550124").status for _ in range(4)
    ]
    assert statuses == [202, 202, 429, 429, 202, 202, 429, 429]
    assert len(service.sms()) == 4
