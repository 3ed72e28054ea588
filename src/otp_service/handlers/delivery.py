"""Sends a rendered message: SMS through SNS, email through SES."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from .errors import DeliveryFailed, is_transient
from .messages import Message

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef


class MessageSender:
    """Delivers codes; a provider's refusal becomes `DeliveryFailed`, throttles pass through."""

    def __init__(
        self,
        sns: SNSClient,
        ses: SESClient,
        email_sender: str | None,
        sms_sender_id: str | None,
        sms_origination_number: str | None = None,
    ) -> None:
        self._sns = sns
        self._ses = ses
        self._email_sender = email_sender
        self._sms_sender_id = sms_sender_id
        self._sms_origination_number = sms_origination_number

    @property
    def email_enabled(self) -> bool:
        """Whether a sender address is configured, without which email cannot go out."""
        return self._email_sender is not None

    def send(self, channel: str, destination: str, message: Message) -> None:
        """Deliver `message` to `destination` over `channel`."""
        try:
            if channel == "sms":
                self._send_sms(destination, message)
            else:
                self._send_email(destination, message)
        except ClientError as error:
            if is_transient(error):
                raise
            raise DeliveryFailed from None

    def _send_sms(self, phone_number: str, message: Message) -> None:
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
        self._sns.publish(
            PhoneNumber=phone_number, Message=message.body, MessageAttributes=attributes
        )

    def _send_email(self, address: str, message: Message) -> None:
        if self._email_sender is None:  # the rules refuse email before any code is made
            raise DeliveryFailed
        self._ses.send_email(
            Source=self._email_sender,
            Destination={"ToAddresses": [address]},
            Message={
                "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": message.body, "Charset": "UTF-8"}},
            },
        )
