"""The service's table, MAC key and sender identity made directly in moto, without the program.

`otp-local` provisions from the stack program (`provision.py`); in-process harnesses that call
the handlers without HTTP (the integration tests, the benchmarks) use this quicker shortcut,
built from the same key-schema constants the component uses.
"""

from __future__ import annotations

import boto3

from otp_service.components.events_plumbing import STREAM_VIEW_TYPE
from otp_service.handlers.settings import Policy, Settings
from otp_service.handlers.table import PARTITION_KEY, TTL_ATTRIBUTE

REGION = "us-east-1"
SENDER = "no-reply@example.com"
TABLE_NAME = "otp-codes"
MAC_KEY_ALIAS = "alias/otp-mac"
RECEIPTS_CONFIGURATION_SET = "otp-receipts"
"""The SES configuration set email goes through, as with the component's email receipts."""


def create_service_resources(policy: Policy) -> Settings:
    """Create the table, MAC key, sender identity and receipts configuration set the component
    would, in moto."""
    session = boto3.session.Session()
    dynamodb = session.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName=TABLE_NAME,
        KeySchema=[{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": PARTITION_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE},
    )
    dynamodb.update_time_to_live(
        TableName=TABLE_NAME,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
    kms = session.client("kms", region_name=REGION)
    key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    kms.create_alias(AliasName=MAC_KEY_ALIAS, TargetKeyId=key["KeyId"])
    ses = session.client("ses", region_name=REGION)
    ses.verify_email_identity(EmailAddress=SENDER)
    ses.create_configuration_set(ConfigurationSet={"Name": RECEIPTS_CONFIGURATION_SET})
    return Settings(
        table_name=TABLE_NAME,
        mac_key_id=MAC_KEY_ALIAS,
        brand_name="Acme",
        email_sender=SENDER,
        policy_json=policy.to_env(),
        receipts_configuration_set=RECEIPTS_CONFIGURATION_SET,
    )
