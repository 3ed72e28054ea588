"""otp-local's stream mapping: at-least-once, in order, and a poisoned record ends in the DLQ
without holding back the records around it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from otp_service.local.moto_resources import REGION
from otp_service.local.routes import FunctionSpec
from otp_service.local.streams import StreamMapping, StreamPoller

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/otp/stream/2026-11-25T00:00:00.000"
POISONED = "4"


def record(sequence: int) -> dict[str, Any]:
    return {"eventName": "MODIFY", "dynamodb": {"SequenceNumber": str(sequence)}}


@pytest.fixture
def queue() -> Iterator[tuple[str, str]]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="otp-events-dlq")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        yield url, arn


def mapping(dead_letter_arn: str, retries: int = 2) -> StreamMapping:
    function = FunctionSpec("otp-events-fn", "arn:fn", "handlers.events.handler", {}, 256)
    return StreamMapping(STREAM, function, 100, retries, True, dead_letter_arn)


def test_a_poisoned_record_is_dead_lettered_and_the_rest_is_delivered(
    queue: tuple[str, str],
) -> None:
    url, arn = queue
    batches: list[list[str]] = []
    handled: list[str] = []

    def invoke(_: str, event: dict[str, Any]) -> dict[str, Any]:
        sequences = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        batches.append(sequences)
        for sequence in sequences:
            if sequence == POISONED:
                return {"batchItemFailures": [{"itemIdentifier": sequence}]}
            handled.append(sequence)
        return {"batchItemFailures": []}

    poller = StreamPoller([mapping(arn)], invoke, REGION)
    poller.deliver(mapping(arn), "shard-1", [record(n) for n in range(1, 11)])

    assert sorted(set(handled), key=int) == [str(n) for n in range(1, 11) if str(n) != POISONED]
    assert handled.index("5") > handled.index("3"), "records stay in order"
    assert batches.count([POISONED]) == 1 + 2, "the lone poisoned record is retried twice"
    sqs = boto3.client("sqs", region_name=REGION)
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (POISONED, POISONED)
    assert info["batchSize"] == 1 and info["streamArn"] == STREAM


def test_a_function_error_retries_the_whole_batch_until_it_succeeds(
    queue: tuple[str, str],
) -> None:
    """At-least-once: a record may reach the function more than once, never zero times."""
    _, arn = queue
    calls: list[int] = []

    def flaky(_: str, event: dict[str, Any]) -> dict[str, Any]:
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            raise RuntimeError("cold dependency")
        return {"batchItemFailures": []}

    poller = StreamPoller([mapping(arn)], flaky, REGION)
    poller.deliver(mapping(arn), "shard-1", [record(1)])
    assert calls == [1, 1]
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.get_queue_url(QueueName="otp-events-dlq")["QueueUrl"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
