"""The OTP service stack: reads this stack's configuration and deploys one `OtpService`."""

import pulumi

from otp_service.components import OtpService
from otp_service.components.args_from_config import args_from_config

service = OtpService("otp", args_from_config(pulumi.Config()))

pulumi.export("api_url", service.api_url)
pulumi.export("table_name", service.table_name)
pulumi.export("table_arn", service.table_arn)
pulumi.export("alarm_topic_arn", service.alarm_topic_arn)
pulumi.export("events_topic_arn", service.events_topic_arn)
pulumi.export("request_token_function_name", service.request_token_function_name)
pulumi.export("verify_token_function_name", service.verify_token_function_name)
pulumi.export("cancel_token_function_name", service.cancel_token_function_name)
pulumi.export("invoke_policy_arn", service.invoke_policy_arn)
pulumi.export("fraud_admin_policy_arn", service.fraud_admin_policy_arn)
pulumi.export("api_key_id", service.api_key_id)
