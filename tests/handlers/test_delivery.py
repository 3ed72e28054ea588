"""The SMS a send publishes: what SNS needs to deliver it from a registered identity."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.stub import Stubber

from otp_service.handlers.delivery import MessageSender
from otp_service.handlers.messages import Message

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient


def _publish_attributes(sender_id: str | None, origination_number: str | None) -> dict[str, str]:
    sns = boto3.client("sns", region_name="us-east-1")
    sent: dict[str, str] = {}
    with Stubber(sns) as stub:

        def record(params: dict[str, object], **_: object) -> None:
            attributes = params["MessageAttributes"]
            assert isinstance(attributes, dict)
            sent.update({name: value["StringValue"] for name, value in attributes.items()})

        sns.meta.events.register("before-parameter-build.sns.Publish", record)
        stub.add_response("publish", {"MessageId": "m-1"})
        sender = MessageSender(lambda: sns, _never_made, None, sender_id, origination_number)
        sender.send("sms", "+14155550123", Message(subject="", body="Your code is 123456"))
        stub.assert_no_pending_responses()
    return sent


def test_sms_goes_out_from_the_configured_origination_number() -> None:
    attributes = _publish_attributes(None, "+18885550100")
    assert attributes["AWS.MM.SMS.OriginationNumber"] == "+18885550100"
    assert attributes["AWS.SNS.SMS.SMSType"] == "Transactional"


def test_without_an_origination_number_sns_picks_the_identity() -> None:
    attributes = _publish_attributes("Example", None)
    assert "AWS.MM.SMS.OriginationNumber" not in attributes
    assert attributes["AWS.SNS.SMS.SenderID"] == "Example"


def _never_made() -> SESClient:
    raise AssertionError("an SMS send made an SES client")
