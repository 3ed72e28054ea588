"""Leaks: every flow run with full log and metric capture; no secret anywhere it writes."""

from __future__ import annotations

import base64
import json
import re

import pytest

from otp_service.handlers.settings import Policy

from .attack import wrong
from .conftest import Capture, Reply, Service
from .contract import invoke, raw_event

PHONE = "+14155550187"
EMAIL = "Leaky.Person@Example.org"
EMAIL_NORMALISED = "Leaky.Person@example.org"
FAULTS = [
    ("sns.Publish", "InvalidParameter", 400),
    ("sns.Publish", "Throttling", 400),
    ("ses.SendEmail", "MessageRejected", 400),
    ("dynamodb.TransactWriteItems", "AccessDeniedException", 400),
    ("dynamodb.UpdateItem", "ValidationException", 400),
    ("dynamodb.UpdateItem", "ProvisionedThroughputExceededException", 400),
    ("kms.GenerateMac", "KMSInternalException", 500),
]


def _every_flow(service: Service) -> list[Reply]:
    replies = [service.request(user_id="u1", destination=PHONE)]
    replies.append(service.verify(service.last_code(), user_id="u1"))
    replies.append(service.verify(service.codes_sent()[-1], user_id="u1"))  # replay
    replies.append(service.request(user_id="u2", channel="email", destination=EMAIL))
    code = service.last_code()
    replies += [service.verify(wrong(code, k), user_id="u2") for k in range(1, 8)]
    replies.append(service.verify(code, user_id="u2"))
    replies.append(service.cancel(user_id="u2"))
    for _ in range(2):
        replies.append(service.request(user_id="u3", headers={"Idempotency-Key": "k-1"}))
    replies.append(service.request(user_id="u3", headers={"Idempotency-Key": "k-1"}, locale="de"))
    replies.append(service.request(user_id="u3"))  # cooldown
    replies += [service.request(user_id=f"p{n}", destination=PHONE) for n in range(7)]
    replies.append(service.request(user_id="u4", destination="+447911123456"))
    # Secrets in the wrong places: values, unknown field names, headers.
    replies.append(service.call("/request-token", {"user_id": PHONE, "destination": EMAIL}))
    replies.append(service.call("/request-token", {"user_id": "u5", EMAIL: PHONE, code: code}))
    replies.append(service.call("/verify-token", {"user_id": "u5", "code": code + "0"}))
    replies.append(service.call("/verify-token", {"user_id": EMAIL, "code": code}))
    replies.append(service.request(user_id="u6", headers={"Idempotency-Key": f"{PHONE} {EMAIL}"}))
    body = base64.b64encode(json.dumps({"user_id": "u7", "destination": PHONE}).encode()).decode()
    replies.append(
        invoke(service, "/request-token", raw_event("/request-token", body + "!", base64=True))
    )
    for operation, error, status in FAULTS:
        # Providers quote the destination in their messages; those must not be logged.
        service.fail(operation, error, status, message=f"bad {PHONE} {EMAIL} code {code}")
        service.clock.advance(3600)
        replies.append(service.request(user_id="u8", destination=PHONE))
        replies.append(service.request(user_id="u9", channel="email", destination=EMAIL))
        replies.append(service.verify(code, user_id="u2"))
        service.heal()
    return replies


def _digits(code: str, text: str) -> bool:
    """Whether `code` stands in `text` as a number of its own (not inside a timestamp)."""
    return re.search(rf"(?<![0-9]){code}(?![0-9])", text) is not None


def test_no_flow_writes_a_code_phone_number_email_address_or_key_anywhere(
    service: Service, capture: Capture
) -> None:
    replies = _every_flow(service)
    subkey = service.container.keyring.current().subkey
    written = capture.text() + "".join(json.dumps(r.body) + json.dumps(r.headers) for r in replies)
    for expected in ("message sent", "user locked out", "unexpected error", '"CodeSent"'):
        assert expected in written, f"{expected!r} was not captured: the capture is broken"
    statuses = {r.status for r in replies}
    assert {200, 202, 400, 403, 422, 429, 500, 502, 503} <= statuses
    secrets = [PHONE, PHONE[1:], PHONE[-10:], EMAIL, EMAIL_NORMALISED, EMAIL.lower()]
    secrets += [subkey.hex(), base64.b64encode(subkey).decode()]
    for secret in secrets:
        assert secret not in written, f"{secret!r} leaked"
    for code in service.codes_sent():
        assert not _digits(code, written), f"code {code} leaked"
    assert "Leaky.Person" not in written and "leaky.person" not in written


def test_metrics_carry_no_user_or_destination_dimension(service: Service, capture: Capture) -> None:
    _every_flow(service)
    documents = [json.loads(line) for line in capture.text().splitlines() if '"_aws"' in line]
    assert documents
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimensions in directive["Dimensions"]:
                assert set(dimensions) <= {"service", "channel"}
        assert document.get("channel") in {"sms", "email", "unknown"}


def test_the_table_holds_no_code_phone_number_or_email_address(service: Service) -> None:
    """An insider with read access to the table learns neither codes nor destinations."""
    service.request(user_id="u1", destination=PHONE)
    service.request(user_id="u2", channel="email", destination=EMAIL)
    service.request(user_id="u3", destination=PHONE, headers={"Idempotency-Key": "k-1"})
    service.verify("000000", user_id="u1")
    stored = json.dumps(service.items(), default=repr)
    codes = service.codes_sent()
    assert len(codes) == 3
    for secret in [PHONE, PHONE[1:], PHONE[-10:], EMAIL_NORMALISED, EMAIL.lower()]:
        assert secret not in stored, f"{secret!r} is stored in clear"
    assert not [code for code in codes if _digits(code, stored)]
    macs = [mac for item in service.items() for mac in item.get("code_macs", {}).get("BS", [])]
    assert len(macs) == 3 and all(len(mac) == 32 for mac in macs)


SHORT_NUMBERS = {
    "TK": ("+6907290", "7290"),  # 7 digits, a 4-digit subscriber number
    "FK": ("+50051234", "51234"),
    "AD": ("+376312345", "312345"),
    "TV": ("+688901234", "901234"),
    "SB": ("+6777421234", "7421234"),
    "US": (PHONE, PHONE[2:]),
}
_MASKED = re.compile(r"\+([0-9]*)\*+([0-9]*)")


@pytest.mark.parametrize("policy", [Policy(allowed_country_codes=("*",))])
def test_short_numbers_of_several_countries_are_never_written_recognisably(
    service: Service, capture: Capture
) -> None:
    """Answers and logs of a send and of a rejected send hide at least five digits of each."""
    for n, (number, national) in enumerate(SHORT_NUMBERS.values()):
        before = len(capture.text())
        sent = service.request(user_id=f"s{n}", destination=number)
        service.fail("sns.Publish", "InvalidParameter", message="rejected")
        rejected = service.request(user_id=f"r{n}", destination=number)
        service.heal()
        assert (sent.status, rejected.status) == (202, 502)
        written = capture.text()[before:] + json.dumps(sent.body)
        assert sent.body["destination"] in written, "the masked number was not written at all"
        for secret in (number[1:], national):
            assert not _digits(secret, written), f"{secret} leaked"
        masks = [m for m in _MASKED.finditer(written) if number[1:].startswith(m[1])]
        assert masks, "no masked number was captured"
        for mask in masks:
            hidden = len(number) - 1 - len(mask[1]) - len(mask[2])
            assert hidden >= 5, f"{mask[0]} shows all but {hidden} digits of {number}"
