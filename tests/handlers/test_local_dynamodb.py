"""The local stack's DynamoDB keeps the guarantees the service relies on, at any table size."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models.table import Table

from otp_service.local import dynamodb_fidelity
from otp_service.local.atomic import sweep_expired_items
from tests.support.local_table import local_table

TABLE = "fidelity"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with local_table(TABLE) as client:
        client.update_time_to_live(
            TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
        )
        yield client


def _count_up(key: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": TABLE,
            "Key": {"pk": {"S": key}},
            "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }


def _put_if_absent(key: str) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": TABLE,
            "Item": {"pk": {"S": key}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _count(client: Any, key: str) -> int | None:
    item = client.get_item(TableName=TABLE, Key={"pk": {"S": key}}).get("Item")
    return None if item is None else int(item["n"]["N"])


def test_a_transaction_never_copies_the_whole_table(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto's own backup deep-copies every touched table: a cost that grows with the table."""

    def refuse(self: Table, memo: object) -> Table:
        raise AssertionError("the whole table was copied")

    monkeypatch.setattr(Table, "__deepcopy__", refuse, raising=False)
    dynamodb.transact_write_items(TransactItems=[_count_up("a"), _put_if_absent("b")])
    assert _count(dynamodb, "a") == 1


def test_a_cancelled_transaction_leaves_every_item_as_it_was(dynamodb: Any) -> None:
    dynamodb.transact_write_items(TransactItems=[_count_up("counted"), _put_if_absent("taken")])
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(
            TransactItems=[_count_up("counted"), _count_up("new"), _put_if_absent("taken")]
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert (_count(dynamodb, "counted"), _count(dynamodb, "new")) == (1, None)


def test_a_retried_transaction_with_its_token_writes_once(dynamodb: Any) -> None:
    binary = {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "mac"}, "b": {"B": b"\x00\xff"}}}}
    for _ in range(2):
        dynamodb.transact_write_items(
            TransactItems=[_count_up("a"), binary], ClientRequestToken="retried"
        )
    assert _count(dynamodb, "a") == 1


def test_a_token_reused_with_other_parameters_is_refused(dynamodb: Any) -> None:
    dynamodb.transact_write_items(TransactItems=[_count_up("a")], ClientRequestToken="reused")
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=[_count_up("b")], ClientRequestToken="reused")
    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert _count(dynamodb, "b") is None


def test_a_token_is_new_again_after_ten_minutes(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(dynamodb_fidelity, "_monotonic", lambda: now[0])
    dynamodb.transact_write_items(TransactItems=[_count_up("a")], ClientRequestToken="expired")
    now[0] += dynamodb_fidelity.IDEMPOTENCY_WINDOW_SECONDS
    dynamodb.transact_write_items(TransactItems=[_count_up("a")], ClientRequestToken="expired")
    assert _count(dynamodb, "a") == 2


def test_a_failed_transaction_can_be_retried_with_its_token(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "taken"}})
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(
            TransactItems=[_put_if_absent("taken")], ClientRequestToken="failed"
        )
    dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": "taken"}})
    dynamodb.transact_write_items(
        TransactItems=[_put_if_absent("taken")], ClientRequestToken="failed"
    )
    assert dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "taken"}}).get("Item")


def test_the_sweep_deletes_expired_items_only(dynamodb: Any) -> None:
    for key, expires in (("old", "999"), ("due", "1000"), ("live", "1001")):
        dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": key}, "ttl": {"N": expires}})
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "forever"}})
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "text"}, "ttl": {"S": "1"}})
    assert sweep_expired_items(now=1000.0) == 1
    left = {item["pk"]["S"] for item in dynamodb.scan(TableName=TABLE)["Items"]}
    assert left == {"due", "live", "forever", "text"}


def test_the_sweep_reads_only_expired_items(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its cost follows what expired, not the table's size (the old sweep read every item)."""
    for n in range(300):
        dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": f"live-{n}"}, "ttl": {"N": "5000"}})
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "old"}, "ttl": {"N": "10"}})
    reads: list[object] = []
    get_item = Table.get_item

    def counted(self: Table, *args: Any, **kwargs: Any) -> Any:
        reads.append(args)
        return get_item(self, *args, **kwargs)

    monkeypatch.setattr(Table, "get_item", counted)
    assert sweep_expired_items(now=1000.0) == 1
    assert len(reads) == 1


def test_the_sweep_finds_expiries_set_by_updates_and_transactions(dynamodb: Any) -> None:
    expire_at = {":t": {"N": "10"}}
    dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": "updated"}},
        UpdateExpression="SET #t = :t",
        ExpressionAttributeNames={"#t": "ttl"},
        ExpressionAttributeValues=expire_at,
    )
    update = {
        "TableName": TABLE,
        "Key": {"pk": {"S": "in-transaction"}},
        "UpdateExpression": "SET #t = :t",
        "ExpressionAttributeNames": {"#t": "ttl"},
        "ExpressionAttributeValues": expire_at,
    }
    dynamodb.transact_write_items(TransactItems=[{"Update": update}])
    assert sweep_expired_items(now=1000.0) == 2
    assert dynamodb.scan(TableName=TABLE)["Items"] == []


def test_an_item_given_a_later_expiry_outlives_its_first(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "renewed"}, "ttl": {"N": "10"}})
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "renewed"}, "ttl": {"N": "2000"}})
    assert sweep_expired_items(now=1000.0) == 0
    assert sweep_expired_items(now=3000.0) == 1


def test_items_written_before_ttl_was_enabled_are_swept(dynamodb: Any) -> None:
    dynamodb.update_time_to_live(
        TableName=TABLE, TimeToLiveSpecification={"Enabled": False, "AttributeName": "ttl"}
    )
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "early"}, "ttl": {"N": "10"}})
    assert sweep_expired_items(now=1000.0) == 0
    dynamodb.update_time_to_live(
        TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
    )
    assert sweep_expired_items(now=1000.0) == 1


def test_an_update_expression_is_parsed_once_for_every_write_that_sends_it(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.parsing.tokens import ExpressionTokenizer

    parsed: list[str] = []
    make_list = ExpressionTokenizer.make_list

    def counted(expression: str) -> Any:
        parsed.append(expression)
        return make_list(expression)

    monkeypatch.setattr(ExpressionTokenizer, "make_list", staticmethod(counted))
    expression = "ADD parsed_once_test :one"
    for value in ("1", "2"):
        dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "parsed"}},
            UpdateExpression=expression,
            ExpressionAttributeValues={":one": {"N": value}},
        )
    assert parsed == [expression]
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "parsed"}})["Item"]
    assert item["parsed_once_test"] == {"N": "3"}


def test_an_update_that_creates_an_item_leaves_one_stream_record(dynamodb: Any) -> None:
    """As DynamoDB writes it: one `INSERT` with the whole new image (moto put the bare key
    first, a second `INSERT`), then a `MODIFY`, readable in order by sequence number."""
    dynamodb.create_table(
        TableName="streamed",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    one = {":one": {"N": "1"}}
    dynamodb.update_item(
        TableName="streamed",
        Key={"pk": {"S": "a"}},
        UpdateExpression="ADD n :one",
        ExpressionAttributeValues=one,
    )
    dynamodb.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": "streamed",
                    "Key": {"pk": {"S": key}},
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": one,
                }
            }
            for key in ("a", "b")
        ]
    )
    # botocore routes calls naming a stream ARN to an account endpoint moto does not serve.
    streams = boto3.client(
        "dynamodbstreams",
        region_name="us-east-1",
        endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com",
    )
    arn = dynamodb.describe_table(TableName="streamed")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    first = streams.get_records(ShardIterator=iterator, Limit=2)
    rest = streams.get_records(ShardIterator=first["NextShardIterator"])["Records"]
    records = first["Records"] + rest
    assert [
        (r["eventName"], r["dynamodb"]["NewImage"]["pk"]["S"], r["dynamodb"]["NewImage"]["n"]["N"])
        for r in records
    ] == [("INSERT", "a", "1"), ("MODIFY", "a", "2"), ("INSERT", "b", "1")]
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequence == sorted(set(sequence))
