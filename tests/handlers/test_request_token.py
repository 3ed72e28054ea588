"""POST /request-token against moto: every contract row of the request side."""

from __future__ import annotations

from dataclasses import replace

import pytest

from otp_service.handlers.lifecycle import is_verification_id
from otp_service.handlers.settings import Policy
from tests.support.moto_service import Service


def test_request_sends_an_sms_and_answers_202_with_a_masked_destination(service: Service) -> None:
    reply = service.request()
    assert reply.status == 202
    assert is_verification_id(reply.body.pop("verification_id"))
    assert reply.body == {
        "status": "pending",
        "channel": "sms",
        "destination": "+1415******23",
        "expires_in": 300,
        "resend_after": 30,
    }
    [(phone, text)] = service.sms()
    assert phone == "+14155550123"
    code = service.last_code()
    assert len(code) == 6
    assert text.startswith("Acme: your verification code is ")
    assert "5 minutes" in text
    assert "Do not share" in text


def test_request_sends_email_from_the_configured_sender(service: Service) -> None:
    reply = service.request(channel="email", destination="Jane.Doe@Example.com")
    assert reply.status == 202
    assert reply.body["destination"] == "J***@example.com"
    [message] = service.emails()
    assert message.source == "no-reply@example.com"
    assert message.destinations["ToAddresses"] == ["Jane.Doe@example.com"]
    assert message.subject == "Acme verification code"
    assert service.last_code() in message.body
    assert service.sms() == []


@pytest.mark.parametrize(
    ("locale", "phrase"),
    [
        ("de", "Ihr Bestätigungscode lautet"),
        ("de-DE", "Ihr Bestätigungscode lautet"),
        ("fr", "votre code de vérification est"),
        ("es-MX", "tu clave temporal es"),
        ("ja", "your verification code is"),
    ],
)
def test_request_writes_the_message_in_the_locale_s_language(
    service: Service, locale: str, phrase: str
) -> None:
    assert service.request(locale=locale).status == 202
    assert phrase in service.sms()[0][1]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"destination": "+14155550123"}, "user_id"),
        ({"user_id": "alice"}, "destination"),
        ({"user_id": "", "destination": "+14155550123"}, "user_id"),
        ({"user_id": "a" * 129, "destination": "+14155550123"}, "user_id"),
        ({"user_id": "al ice", "destination": "+14155550123"}, "user_id"),
        ({"user_id": "alice\n", "destination": "+14155550123"}, "user_id"),
        ({"user_id": 7, "destination": "+14155550123"}, "user_id"),
        ({"user_id": "alice", "destination": "+14155550123", "extra": 1}, "extra"),
        ({"user_id": "alice", "destination": "+14155550123", "channel": "fax"}, "channel"),
        ({"user_id": "alice", "destination": "4155550123"}, "destination"),
        ({"user_id": "alice", "destination": "+1415555"}, "destination"),
        ({"user_id": "alice", "destination": "+10005550123"}, "destination"),
        ({"user_id": "alice", "destination": "bob@", "channel": "email"}, "destination"),
        ({"user_id": "alice", "destination": "+14155550123", "locale": "en_US!"}, "locale"),
    ],
)
def test_request_rejects_a_body_that_breaks_a_field_rule(
    service: Service, body: dict[str, object], field: str
) -> None:
    reply = service.call("/request-token", body)
    assert reply.status == 400
    assert reply.body["error"]["code"] == "invalid_request"
    assert field in [f["field"] for f in reply.body["error"]["fields"]]
    assert service.sms() == [] and service.items() == []


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"text"', ""])
def test_request_rejects_a_body_that_is_not_a_json_object(service: Service, raw: str) -> None:
    reply = service.call("/request-token", None, raw=raw)
    assert reply.status == 400
    assert reply.body["error"]["fields"] == [{"field": "body", "message": "must be a JSON object"}]


def test_request_refuses_a_body_over_8_kib_with_413(service: Service) -> None:
    reply = service.request(locale="en", padding="x" * 8200)
    assert reply.status == 413
    assert reply.body["error"]["code"] == "payload_too_large"


def test_request_refuses_sms_to_a_country_that_is_not_allowed(service: Service) -> None:
    reply = service.request(destination="+447911123456")
    assert reply.status == 403
    assert reply.body["error"]["code"] == "destination_not_allowed"
    assert service.sms() == []


@pytest.mark.parametrize("destination", ["+19002001234", "+448712345678"])
@pytest.mark.parametrize("policy", [Policy(allowed_country_codes=("1", "44"))])
def test_request_refuses_sms_to_premium_rate_numbers(service: Service, destination: str) -> None:
    """Premium-rate numbers are the classic SMS-pumping payout, even in an allowed country."""
    reply = service.request(destination=destination)
    assert reply.status == 403
    assert reply.body["error"]["code"] == "destination_not_allowed"
    assert service.sms() == [] and service.items() == []


@pytest.mark.parametrize("policy", [Policy(allowed_country_codes=("*",))])
def test_request_sends_anywhere_when_all_countries_are_allowed(service: Service) -> None:
    assert service.request(destination="+447911123456").status == 202


def test_a_second_request_within_the_cooldown_is_rate_limited(service: Service) -> None:
    service.request()
    service.clock.advance(10)
    reply = service.request()
    assert reply.status == 429
    assert reply.body["error"]["code"] == "rate_limited"
    assert reply.body["error"]["retry_after"] == 20
    assert reply.headers["Retry-After"] == "20"
    assert len(service.sms()) == 1


def test_a_new_code_replaces_the_pending_one(service: Service) -> None:
    service.request()
    first = service.last_code()
    service.clock.advance(30)
    assert service.request().status == 202
    second = service.last_code()
    if first != second:
        assert service.verify(first).status == 400
    assert service.verify(second).status == 200


def test_sends_per_user_are_limited_within_the_window(service: Service) -> None:
    for _ in range(5):
        assert service.request().status == 202
        service.clock.advance(30)
    reply = service.request()
    assert reply.status == 429
    window_end = (int(service.clock.now) // 3600 + 1) * 3600
    assert reply.body["error"]["retry_after"] == window_end - int(service.clock.now)
    assert len(service.sms()) == 5


def test_sends_per_destination_are_limited_across_user_ids(service: Service) -> None:
    """One number pumped through many user ids is stopped at the per-destination limit."""
    answers = [service.request(user_id=f"user-{n}").status for n in range(7)]
    assert answers == [202] * 5 + [429] * 2
    assert len(service.sms()) == 5


def test_the_send_limit_starts_afresh_in_the_next_window(service: Service) -> None:
    for n in range(5):
        service.request(user_id=f"user-{n}")
    service.clock.advance(3600)
    assert service.request(user_id="user-9").status == 202


def test_an_idempotent_retry_returns_the_first_answer_and_sends_nothing(service: Service) -> None:
    first = service.request(headers={"Idempotency-Key": "order-42"})
    service.clock.advance(5)
    again = service.request(headers={"Idempotency-Key": "order-42"})
    assert again.status == first.status
    assert {**again.body, "expires_in": 0, "resend_after": 0} == {
        **first.body,
        "expires_in": 0,
        "resend_after": 0,
    }
    assert len(service.sms()) == 1


def test_a_replay_says_so_and_counts_its_times_down_to_now(service: Service) -> None:
    first = service.request(headers={"Idempotency-Key": "order-43"})
    assert "Idempotent-Replayed" not in first.headers
    service.clock.advance(20)
    again = service.request(headers={"Idempotency-Key": "order-43"})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.body["expires_in"] == first.body["expires_in"] - 20
    assert again.body["resend_after"] == max(0, first.body["resend_after"] - 20)
    service.clock.advance(60)
    late = service.request(headers={"Idempotency-Key": "order-43"})
    assert (late.body["expires_in"], late.body["resend_after"]) == (
        first.body["expires_in"] - 80,
        0,
    )


def test_an_idempotency_key_reused_with_another_body_is_422(service: Service) -> None:
    service.request(headers={"Idempotency-Key": "order-42"})
    reply = service.request(headers={"Idempotency-Key": "order-42"}, locale="de")
    assert reply.status == 422
    assert reply.body["error"]["code"] == "idempotency_key_reused"
    assert len(service.sms()) == 1


def test_an_idempotency_key_is_forgotten_after_ten_minutes(service: Service) -> None:
    service.request(headers={"Idempotency-Key": "order-42"})
    service.clock.advance(601)
    assert service.request(headers={"Idempotency-Key": "order-42"}).status == 202
    assert len(service.sms()) == 2


@pytest.mark.parametrize("key", ["", "x" * 65, "has space", "naïve"])
def test_a_malformed_idempotency_key_is_400(service: Service, key: str) -> None:
    reply = service.request(headers={"Idempotency-Key": key})
    assert reply.status == 400
    assert reply.body["error"]["fields"][0]["field"] == "Idempotency-Key"


def test_the_sms_carries_the_configured_autofill_lines_with_the_code(service: Service) -> None:
    service.settings = replace(
        service.settings, web_otp_domain="login.example.com", android_app_hash="FA+9qCX9VSu"
    )
    service.cold_start()
    assert service.request().status == 202
    [(_, text)] = service.sms()
    *_, app_hash, origin_bound = text.split("\n")
    code = service.last_code()
    assert (app_hash, origin_bound) == ("FA+9qCX9VSu", f"@login.example.com #{code}")
    assert service.verify(code).status == 200
