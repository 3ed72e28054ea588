"""otp-local's functions reach the emulator's backends in process, and nothing but the emulator."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from otp_service.local.emulator import (
    Emulator,
    answer_in_process,
    point_aws_at,
    start_emulator,
)

REGION = "us-east-1"


@pytest.fixture
def stopped_emulator() -> Iterator[Emulator]:
    """An emulator whose tables outlive its HTTP server, stopped: nothing listens on its port."""
    saved = dict(os.environ)
    emulator = start_emulator()
    point_aws_at(emulator, REGION)
    emulator.stop()
    try:
        yield emulator
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_a_function_session_is_answered_without_the_loopback_server(
    stopped_emulator: Emulator,
) -> None:
    session = boto3.session.Session(region_name=REGION)
    answer_in_process(session)
    dynamodb = session.client("dynamodb")
    assert dynamodb.meta.endpoint_url == stopped_emulator.url
    dynamodb.create_table(
        TableName="in-process",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert "in-process" in dynamodb.list_tables()["TableNames"]
    assert session.client("sns").list_topics()["Topics"] == []


def test_other_sessions_and_services_still_go_to_the_emulator_only(
    stopped_emulator: Emulator,
) -> None:
    """The loopback endpoint stays the only way out: with it closed, they fail, not reach AWS."""
    plain = boto3.session.Session(region_name=REGION).client("dynamodb")
    with pytest.raises(EndpointConnectionError):
        plain.list_tables()
    session = boto3.session.Session(region_name=REGION)
    answer_in_process(session)
    with pytest.raises(EndpointConnectionError):
        session.client("s3").list_buckets()


def test_a_failed_call_answered_in_process_is_the_services_own_error(
    stopped_emulator: Emulator,
) -> None:
    session = boto3.session.Session(region_name=REGION)
    answer_in_process(session)
    dynamodb = session.client("dynamodb")
    dynamodb.create_table(
        TableName="errors",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for _ in range(2):  # the second call takes the route the first one found
        dynamodb.put_item(TableName="errors", Item={"pk": {"S": "a"}})
        with pytest.raises(ClientError) as refused:
            dynamodb.put_item(
                TableName="errors",
                Item={"pk": {"S": "a"}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
        with pytest.raises(ClientError) as missing:
            session.client("sqs").get_queue_url(QueueName="absent")
        assert missing.value.response["Error"]["Code"] in {
            "AWS.SimpleQueueService.NonExistentQueue",
            "QueueDoesNotExist",
        }
