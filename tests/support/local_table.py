"""One moto table behind the local stack's DynamoDB patches, for the tests of those patches."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto import mock_aws

from otp_service.local.atomic import make_dynamodb_atomic


@contextmanager
def local_table(name: str, **table: Any) -> Iterator[Any]:
    """A client of a fresh moto account holding table `name` (hash key `pk`), as otp-local
    patches moto; `table` adds `create_table` arguments (a stream, say)."""
    make_dynamodb_atomic()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            **table,
        )
        yield client
