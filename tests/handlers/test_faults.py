"""Provider rejections, throttling and outages: the contract's answer, nothing left behind."""

from __future__ import annotations

from tests.support.moto_service import Service


def _codes_stored(service: Service) -> int:
    return sum("code_mac" in item for item in service.items())


def test_an_sms_rejection_is_502_and_leaves_no_code_and_no_count(service: Service) -> None:
    service.fail("sns.Publish", "InvalidParameter")
    reply = service.request(headers={"Idempotency-Key": "k-1"})
    assert reply.status == 502
    assert reply.body == {
        "error": {"code": "delivery_failed", "message": "The message could not be delivered."}
    }
    assert _codes_stored(service) == 0
    assert all(int(i.get("sends", {"N": "0"})["N"]) == 0 for i in service.items())
    assert not any(i["pk"]["S"].startswith("idem#") for i in service.items())
    service.heal()
    assert service.request(headers={"Idempotency-Key": "k-1"}).status == 202
    assert len(service.sms()) == 1


def test_an_email_rejection_is_502(service: Service) -> None:
    service.fail("ses.SendEmail", "MessageRejected")
    reply = service.request(channel="email", destination="jane@example.com")
    assert reply.status == 502
    assert _codes_stored(service) == 0


def test_a_throttled_send_is_503_with_retry_after_and_leaves_no_code(service: Service) -> None:
    service.fail("sns.Publish", "Throttling")
    reply = service.request()
    assert reply.status == 503
    assert reply.body["error"]["code"] == "service_unavailable"
    assert reply.headers["Retry-After"] == "2"
    assert _codes_stored(service) == 0


def test_a_throttled_table_on_request_is_503_and_sends_nothing(service: Service) -> None:
    service.fail("dynamodb.TransactWriteItems", "ProvisionedThroughputExceededException")
    reply = service.request()
    assert (reply.status, reply.headers["Retry-After"]) == (503, "2")
    assert service.sms() == []


def test_a_transaction_cancelled_by_throttling_is_503(service: Service) -> None:
    service.fail(
        "dynamodb.TransactWriteItems",
        "TransactionCanceledException",
        # One reason per item: the code, both send counters, the verification record, and
        # Fraud Guard's three prefix checks and budget counter.
        CancellationReasons=[{"Code": "ThrottlingError"}] + [{"Code": "None"}] * 7,
    )
    assert service.request().status == 503
    assert service.sms() == []


def test_a_throttled_table_on_verify_is_503(service: Service) -> None:
    service.request()
    code = service.last_code()
    service.fail("dynamodb.UpdateItem", "ThrottlingException")
    assert service.verify(code).status == 503
    service.heal()
    assert service.verify(code).status == 200


def test_a_key_outage_at_cold_start_is_503_and_the_next_call_recovers(service: Service) -> None:
    service.fail("kms.GenerateMac", "KMSInternalException", status=500)
    assert service.request().status == 503
    assert service.items() == [] and service.sms() == []
    service.heal()
    assert service.request().status == 202


def test_an_unexpected_error_is_a_generic_500_without_a_stack_trace(service: Service) -> None:
    service.fail("dynamodb.TransactWriteItems", "AccessDeniedException", message="User: arn:...")
    reply = service.request()
    assert reply.status == 500
    assert reply.body == {
        "error": {"code": "internal_error", "message": "An unexpected error occurred."}
    }
    assert service.sms() == []


def test_codes_in_flight_survive_a_key_rotation(service: Service) -> None:
    service.request()
    code = service.last_code()
    new_key = service.rotate_mac_key()
    service.cold_start()
    assert service.verify(code).status == 200
    service.clock.advance(30)
    service.request()
    [stored] = [i["code_mac"]["B"] for i in service.items() if "code_mac" in i]
    new_mac = service.container.keyring.current().code_mac("alice", service.last_code())
    assert service.container.keyring.current().key_id in (new_key["Arn"], new_key["KeyId"])
    assert stored == new_mac


def test_a_wrong_code_after_a_rotation_still_counts_as_a_failure(service: Service) -> None:
    service.request()
    code = service.last_code()
    service.rotate_mac_key()
    service.cold_start()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert service.verify(wrong).status == 400
    assert service.verify(code).status == 200
