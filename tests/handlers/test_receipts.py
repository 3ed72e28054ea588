"""Delivery receipts against moto: the receipts function's code records each on the verification,
the stream publishes it, `GET /verifications/{id}` shows it. Payloads are the providers' shapes."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from otp_service.handlers.receipts import (
    MESSAGE_PAIRING_SECONDS,
    ReceiptsNotRecorded,
    handler_over,
)
from otp_service.handlers.table import DELIVERY, message_key, verification_key
from otp_service.local.moto_resources import RECEIPTS_CONFIGURATION_SET
from otp_service.local.proxy_integration import LambdaContext
from tests.handlers.test_lifecycle_flows import Lifecycle
from tests.support.moto_service import Reply, Service
from tests.support.output_capture import Capture

NUMBER = "+14155550123"
ADDRESS = "bob@example.org"
CONFIGURATION_SET = RECEIPTS_CONFIGURATION_SET


@pytest.fixture
def receipts_service(service: Service) -> Service:
    """The service with its email sent through the receipts configuration set (as by default)."""
    assert service.settings.receipts_configuration_set == CONFIGURATION_SET
    return service


@pytest.fixture
def lifecycle(receipts_service: Service) -> Iterator[Lifecycle]:
    yield Lifecycle(receipts_service)


def invoke(service: Service, event: dict[str, Any]) -> dict[str, int]:
    handler = handler_over(lambda: service.container)
    answer: dict[str, int] = handler(event, LambdaContext(function_name="receipts"))
    return answer


def ses_event(event_type: str, verification_id: str, **detail: Any) -> dict[str, Any]:
    """An SES event as the configuration set publishes it, inside an SNS record."""
    message = {
        "eventType": event_type,
        "mail": {
            "timestamp": "2027-01-15T08:00:00.000Z",
            "messageId": "0100017f-ses",
            "destination": [ADDRESS],
            "tags": {"verification_id": [verification_id], "ses:configuration-set": ["x"]},
        },
        event_type.lower(): {"timestamp": "2027-01-15T08:00:05.000Z", **detail},
    }
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(message)}}]}


def log_event(*entries: dict[str, Any] | str) -> dict[str, Any]:
    """A CloudWatch Logs subscription delivery: gzipped, base64, one log event per entry."""
    payload = {
        "messageType": "DATA_MESSAGE",
        "logGroup": "sns/us-east-1/123456789012/DirectPublishToPhoneNumber",
        "logEvents": [
            {"id": str(i), "timestamp": 0, "message": e if isinstance(e, str) else json.dumps(e)}
            for i, e in enumerate(entries)
        ],
    }
    data = base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()
    return {"awslogs": {"data": data}}


def sms_status(message_id: str, status: str = "SUCCESS") -> dict[str, Any]:
    """An SNS SMS delivery-status log entry (AWS's documented example, full number included)."""
    return {
        "notification": {"messageId": message_id, "timestamp": "2027-01-15 08:00:03.558"},
        "delivery": {"destination": NUMBER, "providerResponse": "accepted", "priceInUSD": 0.0065},
        "status": status,
    }


def sent_line(capture: Capture) -> dict[str, Any]:
    """request-token's real "message sent" log line."""
    lines = [json.loads(line) for line in capture.log.getvalue().splitlines()]
    [line] = [line for line in lines if line.get("message") == "message sent"]
    found: dict[str, Any] = line
    return found


def deliveries(lifecycle: Lifecycle) -> list[tuple[str, str]]:
    return [(vid, kind) for vid, kind in lifecycle.types() if kind != "pending"]


def test_an_email_delivery_event_marks_its_verification_delivered_and_is_published(
    receipts_service: Service, lifecycle: Lifecycle
) -> None:
    vid = receipts_service.request(channel="email", destination=ADDRESS).body["verification_id"]
    assert invoke(receipts_service, ses_event("Delivery", vid))["applied"] == 1
    assert deliveries(lifecycle) == [(vid, "delivered")]
    body = lifecycle.status(vid).body
    assert (body["status"], body["delivery"]) == ("pending", "delivered")


@pytest.mark.parametrize("event_type", ["Bounce", "Reject"])
def test_a_bounce_or_reject_marks_the_email_failed(
    receipts_service: Service, lifecycle: Lifecycle, event_type: str
) -> None:
    vid = receipts_service.request(channel="email", destination=ADDRESS).body["verification_id"]
    invoke(receipts_service, ses_event(event_type, vid, bounceType="Permanent"))
    assert deliveries(lifecycle) == [(vid, "delivery_failed")]
    body = lifecycle.status(vid).body
    assert (body["status"], body["delivery"]) == ("pending", "failed")


def test_a_complaint_after_delivery_changes_nothing(
    receipts_service: Service, lifecycle: Lifecycle
) -> None:
    vid = receipts_service.request(channel="email", destination=ADDRESS).body["verification_id"]
    invoke(receipts_service, ses_event("Delivery", vid))
    assert invoke(receipts_service, ses_event("Complaint", vid))["applied"] == 0
    assert lifecycle.status(vid).body["delivery"] == "delivered"


def test_the_email_names_its_verification_in_the_configuration_sets_tag(
    receipts_service: Service,
) -> None:
    sent: list[dict[str, Any]] = []
    receipts_service.session.events.register(
        "provide-client-params.ses.SendEmail", lambda params, **_: sent.append(dict(params))
    )
    vid = receipts_service.request(channel="email", destination=ADDRESS).body["verification_id"]
    [params] = sent
    assert params["ConfigurationSetName"] == CONFIGURATION_SET
    assert params["Tags"] == [{"Name": "verification_id", "Value": vid}]


@pytest.mark.parametrize("receipt_first", [False, True])
def test_an_sms_receipt_finds_its_verification_through_the_sent_line_in_either_order(
    receipts_service: Service, lifecycle: Lifecycle, capture: Capture, receipt_first: bool
) -> None:
    vid = receipts_service.request().body["verification_id"]
    line = sent_line(capture)
    assert line["verification_id"] == vid and line["message_id"]
    halves = [log_event(line), log_event(sms_status(line["message_id"]))]
    for half in reversed(halves) if receipt_first else halves:
        invoke(receipts_service, half)
    assert deliveries(lifecycle) == [(vid, "delivered")]
    assert lifecycle.status(vid).body["delivery"] == "delivered"


def test_an_sms_failure_receipt_marks_the_sms_failed_and_leaves_the_status(
    receipts_service: Service, lifecycle: Lifecycle, capture: Capture
) -> None:
    vid = receipts_service.request().body["verification_id"]
    line = sent_line(capture)
    invoke(receipts_service, log_event(line, sms_status(line["message_id"], "FAILURE")))
    assert deliveries(lifecycle) == [(vid, "delivery_failed")]
    body = lifecycle.status(vid).body
    assert (body["status"], body["delivery"]) == ("pending", "failed")


def test_a_replayed_or_contradicting_receipt_changes_nothing(
    receipts_service: Service, lifecycle: Lifecycle
) -> None:
    """The first receipt wins; at-least-once delivery repeats it without a second event."""
    vid = receipts_service.request(channel="email", destination=ADDRESS).body["verification_id"]
    invoke(receipts_service, ses_event("Delivery", vid))
    invoke(receipts_service, ses_event("Delivery", vid))
    invoke(receipts_service, ses_event("Bounce", vid))
    assert deliveries(lifecycle) == [(vid, "delivered")]
    assert lifecycle.status(vid).body["delivery"] == "delivered"


def test_a_receipt_for_a_retired_or_unknown_verification_creates_no_record(
    receipts_service: Service,
) -> None:
    unknown = "vf_" + "q" * 32
    invoke(receipts_service, ses_event("Delivery", unknown))
    keys = {item["pk"]["S"] for item in receipts_service.items()}
    assert verification_key(unknown) not in keys


def test_an_unmatched_sms_receipt_waits_on_its_message_item_for_three_days_and_more(
    receipts_service: Service,
) -> None:
    """Other applications' SMS in the account have receipts too; theirs pair with nothing."""
    invoke(receipts_service, log_event(sms_status("foreign-1")))
    [item] = [i for i in receipts_service.items() if i["pk"]["S"] == message_key("foreign-1")]
    assert int(item["expires_at"]["N"]) - receipts_service.clock() >= 72 * 3600
    assert MESSAGE_PAIRING_SECONDS > 72 * 3600
    assert "verification_id" not in item


def test_unreadable_entries_are_skipped_and_the_rest_recorded(
    receipts_service: Service, capture: Capture
) -> None:
    vid = receipts_service.request().body["verification_id"]
    line = sent_line(capture)
    answer = invoke(receipts_service, log_event("not json", line, sms_status(line["message_id"])))
    assert answer == {"applied": 2, "unreadable": 1}
    record = [i for i in receipts_service.items() if i["pk"]["S"] == verification_key(vid)]
    assert record[0][DELIVERY]["S"] == "delivered"


def test_an_aws_failure_fails_the_invocation_so_lambda_retries_it(
    receipts_service: Service,
) -> None:
    vid = receipts_service.request(channel="email", destination=ADDRESS).body["verification_id"]
    receipts_service.fail("dynamodb.UpdateItem", "ProvisionedThroughputExceededException")
    with pytest.raises(ReceiptsNotRecorded):
        invoke(receipts_service, ses_event("Delivery", vid))
    receipts_service.heal()
    assert invoke(receipts_service, ses_event("Delivery", vid))["applied"] == 1


def test_receipts_never_log_the_number_or_address_they_carry(
    receipts_service: Service, capture: Capture
) -> None:
    receipts_service.request()
    line = sent_line(capture)
    invoke(receipts_service, log_event("garbage", line, sms_status(line["message_id"])))
    receipts_service.fail("dynamodb.UpdateItem", "InternalServerError", status=500)
    with pytest.raises(ReceiptsNotRecorded):
        invoke(receipts_service, ses_event("Delivery", "vf_" + "q" * 32))
    with pytest.raises(ReceiptsNotRecorded):
        invoke(receipts_service, log_event(sms_status("m-2", "FAILURE")))
    text = capture.text()
    assert "receipt not recorded" in text
    for secret in (NUMBER, NUMBER[1:], ADDRESS):
        assert secret not in text


def _calls_per_operation(service: Service, run: str) -> dict[str, list[str]]:
    service.cold_start()
    service.request(user_id=f"warm-{run}")  # derives the MAC subkey once per container
    found: dict[str, list[str]] = {}
    operations: dict[str, Callable[[], Reply]] = {
        "sms": lambda: service.request(user_id=f"sms-{run}"),
        "email": lambda: service.request(
            user_id=f"email-{run}", channel="email", destination=f"{run}@example.org"
        ),
        "verify": lambda: service.verify(service.last_code(), user_id=f"email-{run}"),
        "cancel": lambda: service.cancel(user_id=f"sms-{run}"),
    }
    for name, operation in operations.items():
        before = len(service.calls)
        operation()
        found[name] = service.calls[before:]
    return found


def test_receipts_add_no_call_to_request_verify_or_cancel(service: Service) -> None:
    """The same calls with and without receipts: request keeps its single write round trip."""
    with_receipts = _calls_per_operation(service, "a")
    service.settings = replace(service.settings, receipts_configuration_set=None)
    without = _calls_per_operation(service, "b")
    assert with_receipts == without
    assert with_receipts["sms"] == ["dynamodb.TransactWriteItems", "sns.Publish"]
    assert with_receipts["email"] == ["dynamodb.TransactWriteItems", "ses.SendEmail"]
