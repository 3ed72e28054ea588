"""Each status and event, end to end against moto: handlers write, the stream is decoded by the
events function's code, `GET /verifications/{id}` reads. The clock is injected throughout."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

import otp_service.handlers.get_verification as get_verification
from otp_service.handlers.api import lambda_handler
from otp_service.handlers.events import EventPublisher, OutcomeRecorder, process
from otp_service.local.moto_resources import REGION
from otp_service.local.proxy_integration import LambdaContext, proxy_event
from tests.support.moto_service import Reply, Service

WRONG = "000000"


@dataclass
class Lifecycle:
    """Reads the table's stream from where it last stopped and runs the events function's code."""

    service: Service
    published: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    _iterator: str | None = None

    def _streams(self) -> Any:
        # botocore routes calls naming a stream ARN to an account endpoint moto does not serve.
        endpoint = f"https://streams.dynamodb.{REGION}.amazonaws.com"
        return boto3.client("dynamodbstreams", region_name=REGION, endpoint_url=endpoint)

    def new_records(self) -> list[dict[str, Any]]:
        streams = self._streams()
        if self._iterator is None:
            arn = streams.list_streams(TableName=self.service.settings.table_name)["Streams"][0][
                "StreamArn"
            ]
            shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
            self._iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        answer = streams.get_records(ShardIterator=self._iterator)
        self._iterator = answer["NextShardIterator"]
        records: list[dict[str, Any]] = answer["Records"]
        self.records += records
        return records

    def events(self) -> list[dict[str, Any]]:
        """The events the new stream records publish, after recording outcomes."""
        before = len(self.published)
        recorder = OutcomeRecorder(
            boto3.client("dynamodb", region_name=REGION), self.service.settings.table_name
        )
        failed = process(self.new_records(), [lambda t: self.published.append(t.event()), recorder])
        assert failed == []
        return self.published[before:]

    def types(self) -> list[tuple[str, str]]:
        return [
            (e["verification_id"], e["type"].removeprefix("verification.")) for e in self.events()
        ]

    def status(self, verification_id: str) -> Reply:
        event = proxy_event("GET", f"/verifications/{verification_id}")
        event["pathParameters"] = {"verification_id": verification_id}
        handler = lambda_handler(get_verification.operation, lambda: self.service.container)
        result = handler(event, LambdaContext(function_name="get-verification"))
        return Reply(result["statusCode"], result["headers"], json.loads(result["body"]))


@pytest.fixture
def lifecycle(service: Service) -> Iterator[Lifecycle]:
    yield Lifecycle(service)


def requested(service: Service, user_id: str = "alice") -> str:
    reply = service.request(user_id)
    assert reply.status == 202, reply.body
    return str(reply.body["verification_id"])


def test_a_request_is_pending_with_its_times_and_masked_destination(
    service: Service, lifecycle: Lifecycle
) -> None:
    vf = requested(service)
    assert lifecycle.types() == [(vf, "pending")]
    reply = lifecycle.status(vf)
    assert reply.status == 200
    assert reply.body == {
        "verification_id": vf,
        "user_id": "alice",
        "status": "pending",
        "channel": "sms",
        "destination": "+1415******23",
        "created_at": "2027-01-15T08:00:00Z",
        "expires_at": "2027-01-15T08:05:00Z",
        "delivery": "sent",
    }


def test_the_right_code_approves_once(service: Service, lifecycle: Lifecycle) -> None:
    vf = requested(service)
    assert service.verify(service.last_code()).status == 200
    assert lifecycle.types() == [(vf, "pending"), (vf, "approved")]
    assert lifecycle.status(vf).body["status"] == "approved"
    assert service.verify(service.last_code()).status == 400
    assert lifecycle.types() == []
    assert lifecycle.status(vf).body["status"] == "approved"


def test_a_new_request_supersedes_the_pending_one(service: Service, lifecycle: Lifecycle) -> None:
    first = requested(service)
    service.clock.advance(31)
    second = requested(service)
    assert lifecycle.types() == [(first, "pending"), (first, "superseded"), (second, "pending")]
    assert lifecycle.status(first).body["status"] == "superseded"
    assert lifecycle.status(second).body["status"] == "pending"


def test_expiry_is_decided_by_the_clock_and_published_with_the_next_write(
    service: Service, lifecycle: Lifecycle
) -> None:
    first = requested(service)
    lifecycle.events()
    service.clock.advance(300)
    assert lifecycle.status(first).body["status"] == "expired"
    assert lifecycle.events() == [], "expiry alone writes nothing"
    service.clock.advance(100)
    second = requested(service)
    expired, pending = lifecycle.events()
    assert (expired["verification_id"], expired["type"]) == (first, "verification.expired")
    assert expired["occurred_at"] == "2027-01-15T08:05:00Z"
    assert pending["verification_id"] == second
    assert lifecycle.status(first).body["status"] == "expired"


def test_the_last_allowed_failure_ends_the_verification_as_locked_out(
    service: Service, lifecycle: Lifecycle
) -> None:
    vf = requested(service)
    for _ in range(service.settings.policy.max_verify_attempts - 1):
        assert service.verify(WRONG).status == 400
    assert lifecycle.types() == [(vf, "pending")]
    assert service.verify(WRONG).status == 429
    assert lifecycle.types() == [(vf, "max_attempts_reached")]
    assert lifecycle.status(vf).body["status"] == "max_attempts_reached"


def test_cancel_ends_a_pending_verification_once(service: Service, lifecycle: Lifecycle) -> None:
    vf = requested(service)
    assert service.cancel().status == 200
    assert service.cancel().status == 200
    assert lifecycle.types() == [(vf, "pending"), (vf, "canceled")]
    assert lifecycle.status(vf).body["status"] == "canceled"


def test_cancel_after_expiry_leaves_the_verification_expired(
    service: Service, lifecycle: Lifecycle
) -> None:
    vf = requested(service)
    service.clock.advance(301)
    service.cancel()
    assert lifecycle.types() == [(vf, "pending"), (vf, "expired")]
    assert lifecycle.status(vf).body["status"] == "expired"


def test_a_refused_send_ends_as_delivery_failed(service: Service, lifecycle: Lifecycle) -> None:
    service.fail("sns.Publish", "InvalidParameter")
    assert service.request().status == 502
    service.heal()
    _pending, failed = lifecycle.events()
    assert failed["type"] == "verification.delivery_failed"
    reply = lifecycle.status(failed["verification_id"])
    assert (reply.body["status"], reply.body["delivery"]) == ("delivery_failed", "failed")


def test_a_replayed_stream_repeats_event_ids_so_consumers_can_drop_duplicates(
    service: Service, lifecycle: Lifecycle
) -> None:
    requested(service)
    service.verify(service.last_code())
    first = lifecycle.events()
    replayed: list[dict[str, Any]] = []
    process(lifecycle.records, [lambda t: replayed.append(t.event())])
    assert [e["event_id"] for e in replayed] == [e["event_id"] for e in first]
    assert len({e["event_id"] for e in first + replayed}) == len(first) == 2


def test_racing_verify_and_cancel_end_a_verification_exactly_once(
    service: Service, lifecycle: Lifecycle
) -> None:
    vf = requested(service)
    code = service.last_code()
    start = threading.Barrier(8)

    def verify() -> None:
        start.wait()
        service.verify(code)

    def cancel() -> None:
        start.wait()
        service.cancel()

    threads = [threading.Thread(target=f) for f in [verify] * 4 + [cancel] * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ended = [kind for verification, kind in lifecycle.types() if kind != "pending"]
    assert len(ended) == 1 and ended[0] in ("approved", "canceled"), ended
    assert lifecycle.status(vf).body["status"] == ended[0]


def test_racing_requests_leave_one_pending_verification(
    service: Service, lifecycle: Lifecycle
) -> None:
    start = threading.Barrier(6)
    replies: list[Reply] = []

    def request() -> None:
        start.wait()
        replies.append(service.request())

    threads = [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = [r.body["verification_id"] for r in replies if r.status == 202]
    assert len(accepted) == 1
    assert lifecycle.types() == [(accepted[0], "pending")]


def test_unknown_malformed_and_retired_ids_answer_the_same_404(
    service: Service, lifecycle: Lifecycle
) -> None:
    vf = requested(service)
    unknown = lifecycle.status("vf_" + "a" * 32)
    malformed = lifecycle.status("vf_not-an-id")
    service.clock.advance(service.settings.policy.verification_retention_days * 86_400)
    retired = lifecycle.status(vf)
    assert unknown.status == malformed.status == retired.status == 404
    assert (
        unknown.body
        == malformed.body
        == retired.body
        == {"error": {"code": "not_found", "message": "No such verification."}}
    )
    assert unknown.headers == malformed.headers == retired.headers


def test_published_events_carry_type_and_channel_attributes_for_filter_policies(
    service: Service, lifecycle: Lifecycle
) -> None:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="otp-events")["TopicArn"]
    queue = sqs.create_queue(QueueName="approved-only")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={
            "RawMessageDelivery": "true",
            "FilterPolicy": json.dumps({"type": ["verification.approved"], "channel": ["sms"]}),
        },
    )
    requested(service)
    service.verify(service.last_code())
    process(lifecycle.new_records(), [EventPublisher(sns, topic)])
    messages = sqs.receive_message(
        QueueUrl=queue, MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    assert len(messages) == 1
    event = json.loads(messages[0]["Body"])
    assert event["type"] == "verification.approved"
    attributes = messages[0]["MessageAttributes"]
    assert attributes["type"]["StringValue"] == "verification.approved"
    assert attributes["channel"]["StringValue"] == "sms"
    code = service.last_code()
    assert code not in json.dumps(event) and "+14155550123" not in json.dumps(event)
