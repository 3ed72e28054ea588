"""Sends a rendered message: SMS through SNS, email through SES."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .errors import DeliveryFailed, is_transient
from .messages import Message

RECEIPT_TAG = "verification_id"
"""The SES message tag naming the verification an email belongs to (letters, digits, `_`)."""

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef


class MessageSender:
    """Delivers codes; a provider's refusal becomes `DeliveryFailed`, throttles pass through.

    Each provider's client is made on its first send, so a cold SMS request never builds SES's.
    """

    def __init__(
        self,
        sns: Callable[[], SNSClient],
        ses: Callable[[], SESClient],
        email_sender: str | None,
        sms_sender_id: str | None,
        sms_origination_number: str | None = None,
        receipts_configuration_set: str | None = None,
    ) -> None:
        self._make_sns = sns
        self._make_ses = ses
        self._email_sender = email_sender
        self._sms_sender_id = sms_sender_id
        self._sms_origination_number = sms_origination_number
        self._receipts_configuration_set = receipts_configuration_set

    @cached_property
    def _sns(self) -> SNSClient:
        return self._make_sns()

    @cached_property
    def _ses(self) -> SESClient:
        return self._make_ses()

    @property
    def email_enabled(self) -> bool:
        """Whether a sender address is configured, without which email cannot go out."""
        return self._email_sender is not None

    def send(
        self, channel: str, destination: str, message: Message, verification_id: str = ""
    ) -> str:
        """Deliver `message` to `destination` over `channel`; the provider's message id.

        An email names its verification in a message tag, which SES copies into every event
        it publishes about the message (the delivery receipts).
        """
        try:
            if channel == "sms":
                return self._send_sms(destination, message)
            return self._send_email(destination, message, verification_id)
        except ClientError as error:
            if is_transient(error):
                raise
            raise DeliveryFailed from None

    def _send_sms(self, phone_number: str, message: Message) -> str:
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}
        }
        if self._sms_sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {
                "DataType": "String",
                "StringValue": self._sms_sender_id,
            }
        if self._sms_origination_number:
            # US carriers deliver only from a registered toll-free or 10DLC number.
            attributes["AWS.MM.SMS.OriginationNumber"] = {
                "DataType": "String",
                "StringValue": self._sms_origination_number,
            }
        return self._sns.publish(
            PhoneNumber=phone_number, Message=message.body, MessageAttributes=attributes
        ).get("MessageId", "")

    def _send_email(self, address: str, message: Message, verification_id: str) -> str:
        if self._email_sender is None:  # the rules refuse email before any code is made
            raise DeliveryFailed
        receipts: dict[str, Any] = {}
        if self._receipts_configuration_set is not None and verification_id:
            receipts = {
                "ConfigurationSetName": self._receipts_configuration_set,
                "Tags": [{"Name": RECEIPT_TAG, "Value": verification_id}],
            }
        sent = self._ses.send_email(
            Source=self._email_sender,
            Destination={"ToAddresses": [address]},
            Message={
                "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": message.body, "Charset": "UTF-8"}},
            },
            **receipts,
        )
        return sent.get("MessageId", "")
