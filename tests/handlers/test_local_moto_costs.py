"""The local stack's cheaper expression checks answer and fail as moto's (and DynamoDB's) own.

`moto_costs` keeps work across requests (a parsed condition, an update expression's
checks that passed, a tree's pickle): each test repeats a request so the second answer comes
from what the first one left, and changes exactly one thing the kept work must not outlive.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.support.local_table import local_table

TABLE = "expressions"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    stream = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    with local_table(TABLE, StreamSpecification=stream) as client:
        yield client


def _update(client: Any, key: str, expression: str, **extra: Any) -> dict[str, Any]:
    answer = client.update_item(
        TableName=TABLE,
        Key={"pk": {"S": key}},
        UpdateExpression=expression,
        ReturnValues="ALL_NEW",
        **extra,
    )
    attributes: dict[str, Any] = answer["Attributes"]
    return attributes


def _error(call: Any) -> str:
    return _error_and_message(call)[0]


def _error_and_message(call: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


def test_errors_reach_the_client_with_their_code_and_message(dynamodb: Any) -> None:
    _update(dynamodb, "item", "SET a = :v", ExpressionAttributeValues={":v": {"S": "x"}})
    failed_condition = _error_and_message(
        lambda: _update(
            dynamodb,
            "item",
            "SET a = :v",
            ConditionExpression="attribute_not_exists(a)",
            ExpressionAttributeValues={":v": {"S": "y"}},
        )
    )
    missing_operand = _error_and_message(
        lambda: _update(
            dynamodb, "item", "SET a = absent + :n", ExpressionAttributeValues={":n": {"N": "1"}}
        )
    )
    assert failed_condition == ("ConditionalCheckFailedException", "The conditional request failed")
    assert missing_operand == (
        "ValidationException",
        "The provided expression refers to an attribute that does not exist in the item",
    )


def test_a_repeated_update_expression_is_applied_with_each_requests_values(dynamodb: Any) -> None:
    expression = "ADD n :step SET label = if_not_exists(label, :label), #w = :w"
    for step, label in ((2, "first"), (5, "second")):
        attributes = _update(
            dynamodb,
            "counter",
            expression,
            ExpressionAttributeNames={"#w": "window"},
            ExpressionAttributeValues={
                ":step": {"N": str(step)},
                ":label": {"S": label},
                ":w": {"N": str(step * 10)},
            },
        )
    assert attributes == {
        "pk": {"S": "counter"},
        "n": {"N": "7"},
        "label": {"S": "first"},
        "window": {"N": "50"},
    }


def test_the_key_check_is_kept_per_name_mapping_not_per_expression_string(
    dynamodb: Any,
) -> None:
    """`SET #a = :v` passed once with `#a` naming another attribute; naming the key fails."""
    values = {":v": {"S": "x"}}
    _update(
        dynamodb,
        "item",
        "SET #a = :v",
        ExpressionAttributeNames={"#a": "other"},
        ExpressionAttributeValues=values,
    )
    code = _error(
        lambda: _update(
            dynamodb,
            "item",
            "SET #a = :v",
            ExpressionAttributeNames={"#a": "pk"},
            ExpressionAttributeValues=values,
        )
    )
    assert code == "ValidationException"


@pytest.mark.parametrize(
    "expression",
    ["SET a = :v SET b = :v", "SET a = :v, a = :v", "SET a = :v REMOVE a"],
    ids=["two SET clauses", "one path twice", "set and remove one path"],
)
def test_an_invalid_update_expression_fails_every_time(dynamodb: Any, expression: str) -> None:
    def update() -> Any:
        return _update(dynamodb, "item", expression, ExpressionAttributeValues={":v": {"S": "x"}})

    for _ in range(2):
        assert _error(update) == "ValidationException"


def test_a_condition_is_judged_with_each_requests_values(dynamodb: Any) -> None:
    condition = "attribute_not_exists(n) OR n < :max"
    _update(dynamodb, "capped", "SET n = :n", ExpressionAttributeValues={":n": {"N": "3"}})

    def add_one(maximum: int) -> Any:
        return lambda: _update(
            dynamodb,
            "capped",
            "ADD n :one",
            ConditionExpression=condition,
            ExpressionAttributeValues={":one": {"N": "1"}, ":max": {"N": str(maximum)}},
        )

    assert add_one(10)()["n"] == {"N": "4"}
    assert _error(add_one(4)) == "ConditionalCheckFailedException"
    assert add_one(10)()["n"] == {"N": "5"}
    assert _error(add_one(5)) == "ConditionalCheckFailedException"


def test_a_condition_is_judged_with_each_requests_names(dynamodb: Any) -> None:
    _update(dynamodb, "named", "SET present = :v", ExpressionAttributeValues={":v": {"S": "x"}})

    def check(name: str) -> Any:
        return lambda: dynamodb.transact_write_items(
            TransactItems=[
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "named"}},
                        "ConditionExpression": "attribute_not_exists(#n)",
                        "ExpressionAttributeNames": {"#n": name},
                    }
                }
            ]
        )

    check("absent")()
    assert _error(check("present")) == "TransactionCanceledException"
    check("absent")()


def test_a_kept_condition_still_counts_its_names_and_values_as_used(dynamodb: Any) -> None:
    """moto refuses a value or name no expression uses, from what the parse found: a repeated
    request (its condition's parse kept) must pass that check again, and an unused one fail."""

    def update(extra_values: dict[str, Any]) -> Any:
        return lambda: _update(
            dynamodb,
            "guarded",
            "SET v = :v",
            ConditionExpression="attribute_not_exists(#v) OR #v <> :k",
            ExpressionAttributeNames={"#v": "v"},
            ExpressionAttributeValues={":v": {"S": "new"}, ":k": {"S": "other"}, **extra_values},
        )

    for _ in range(3):
        assert update({})()["v"] == {"S": "new"}
    assert _error(update({":unused": {"S": "x"}})) == "ValidationException"


EVERY_TYPE = {
    "pk": {"S": "typed"},
    "s": {"S": "text"},
    "n": {"N": "12.5"},
    "b": {"B": b"\x00\xffbinary"},
    "yes": {"BOOL": True},
    "no": {"BOOL": False},
    "nothing": {"NULL": True},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]},
    "bs": {"BS": [b"\x01", b"\x02"]},
    "list": {"L": [{"S": "x"}, {"N": "1"}, {"B": b"\x03"}, {"M": {"inner": {"BOOL": True}}}]},
    "map": {"M": {"a": {"S": "y"}, "b": {"L": [{"NULL": True}]}, "c": {"B": b"\x04"}}},
}


def _as_sets(item: dict[str, Any]) -> dict[str, Any]:
    """Set attributes' members compared as sets (DynamoDB keeps no order in them)."""
    return {
        name: {kind: sorted(members) for kind, members in value.items()}
        if next(iter(value)) in ("SS", "NS", "BS")
        else value
        for name, value in item.items()
    }


def test_every_attribute_type_is_answered_as_written(dynamodb: Any) -> None:
    """Items come back from GetItem, an update's ALL_NEW and the stream exactly as written."""
    dynamodb.put_item(TableName=TABLE, Item=EVERY_TYPE)
    read = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "typed"}})["Item"]
    updated = _update(dynamodb, "typed", "SET s = :s", ExpressionAttributeValues={":s": {"S": "t"}})
    # botocore routes calls naming a stream ARN to an account endpoint moto does not serve.
    streams = boto3.client(
        "dynamodbstreams",
        region_name="us-east-1",
        endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com",
    )
    arn = dynamodb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]

    assert _as_sets(read) == _as_sets(EVERY_TYPE)
    assert _as_sets(updated) == _as_sets({**EVERY_TYPE, "s": {"S": "t"}})
    assert _as_sets(records[0]["dynamodb"]["NewImage"]) == _as_sets(EVERY_TYPE)
    assert _as_sets(records[1]["dynamodb"]["OldImage"]) == _as_sets(EVERY_TYPE)
    assert base64.b64encode(read["b"]["B"]) == base64.b64encode(b"\x00\xffbinary")
