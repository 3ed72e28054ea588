"""`OtpService`: the whole one-time-passcode service as one Pulumi component.

Annotations here and in `options.py` stay real objects (no `from __future__ import annotations`):
the package host reads them at run time to derive the schema.
"""

from typing import Optional

import pulumi

from .alarms import create_alarm_topic, create_alarms
from .dashboard import create_dashboard
from .events_plumbing import connect_stream, create_events_plumbing
from .fraud_admin import create_fraud_admin_policy
from .functions import CANCEL_TOKEN, REQUEST_TOKEN, VERIFY_TOKEN, create_functions
from .iam import AwsContext
from .keys import create_keys
from .options import OtpServiceArgs, resolve_options
from .packaging import default_build_directory
from .receipts import ReceiptSources, connect_receipts, create_receipts_plumbing
from .rest_api import create_api
from .sms import create_sms_preferences
from .storage import create_table


class OtpService(pulumi.ComponentResource):
    """An OTP API: request, verify and cancel codes sent by SMS or email, secure by default."""

    api_url: pulumi.Output[str]
    """Base URL of the API stage; the routes are `POST {api_url}/request-token` and so on."""
    table_name: pulumi.Output[str]
    """Name of the DynamoDB table holding pending codes and counters."""
    table_arn: pulumi.Output[str]
    """ARN of the DynamoDB table."""
    alarm_topic_arn: pulumi.Output[str]
    """ARN of the SNS topic every alarm notifies; subscribe on-call tooling to it."""
    events_topic_arn: pulumi.Output[str]
    """ARN of the SNS topic lifecycle events are published to (attributes `type`, `channel`)."""
    request_token_function_name: pulumi.Output[str]
    """Name of the function behind `POST /request-token`."""
    verify_token_function_name: pulumi.Output[str]
    """Name of the function behind `POST /verify-token`."""
    cancel_token_function_name: pulumi.Output[str]
    """Name of the function behind `POST /cancel-token`."""
    invoke_policy_arn: pulumi.Output[str]
    """Managed policy granting `execute-api:Invoke` on the routes; attach it to a caller's role."""
    fraud_admin_policy_arn: pulumi.Output[str]
    """Managed policy letting an operator list and lift Fraud Guard blocks with `otp-fraud`."""
    api_key_id: pulumi.Output[Optional[str]]  # noqa: UP045 - the package schema reads this form
    """ID of the usage plan's API key in API-key mode (read its value with the AWS CLI)."""

    def __init__(
        self, name: str, args: OtpServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("otp:index:OtpService", name, None, opts)
        options = resolve_options(args)
        aws_context = AwsContext.lookup(self)
        keys = create_keys(
            name,
            aws_context,
            options.infrastructure.mac_key_generation,
            self,
            email_receipts=options.infrastructure.email_sender is not None,
        )
        table = create_table(
            name, keys.encryption_key, options.infrastructure.deletion_protection, self
        )
        events = create_events_plumbing(name, keys, self)
        receipts = create_receipts_plumbing(name, options, keys, self)
        functions, events_function, receipts_function = create_functions(
            name,
            options,
            aws_context,
            keys,
            table,
            events,
            receipts,
            default_build_directory(),
            self,
        )
        api = create_api(name, options, aws_context, keys, functions, self)
        topic = create_alarm_topic(name, options, keys, self)
        create_alarms(
            name, options, topic, [*functions, events_function, receipts_function], table, api, self
        )
        connect_stream(name, table, events_function, events, topic, self)
        create_dashboard(name, aws_context, functions, table, api, self)
        fraud_admin_policy = create_fraud_admin_policy(name, aws_context, keys, table, self)
        sms_preferences = []
        if options.infrastructure.manage_sms_preferences:
            sms_preferences.append(create_sms_preferences(name, options, aws_context, keys, self))
        by_route = {route_function.route: route_function for route_function in functions}
        connect_receipts(
            name,
            options,
            aws_context,
            keys,
            receipts,
            ReceiptSources(
                receipts_arn=receipts_function.target_arn,
                receipts_name=receipts_function.function.name,
                qualifier=receipts_function.qualifier,
                request_token_log_group=by_route[REQUEST_TOKEN].log_group,
            ),
            topic,
            self,
            after=sms_preferences,
        )

        self.api_url = api.stage.invoke_url
        self.table_name = table.name
        self.table_arn = table.arn
        self.alarm_topic_arn = topic.arn
        self.events_topic_arn = events.topic.arn
        self.request_token_function_name = by_route[REQUEST_TOKEN].function.name
        self.verify_token_function_name = by_route[VERIFY_TOKEN].function.name
        self.cancel_token_function_name = by_route[CANCEL_TOKEN].function.name
        self.invoke_policy_arn = api.invoke_policy.arn
        self.fraud_admin_policy_arn = fraud_admin_policy.arn
        self.api_key_id = pulumi.Output.from_input(api.api_key.id if api.api_key else None)
        self.register_outputs(
            {
                "api_url": self.api_url,
                "table_name": self.table_name,
                "table_arn": self.table_arn,
                "alarm_topic_arn": self.alarm_topic_arn,
                "events_topic_arn": self.events_topic_arn,
                "request_token_function_name": self.request_token_function_name,
                "verify_token_function_name": self.verify_token_function_name,
                "cancel_token_function_name": self.cancel_token_function_name,
                "invoke_policy_arn": self.invoke_policy_arn,
                "fraud_admin_policy_arn": self.fraud_admin_policy_arn,
                "api_key_id": self.api_key_id,
            }
        )
