"""A consumer stack: its backend calls an OtpService it deploys, signing requests with IAM."""

import pulumi
import pulumi_aws as aws
from components import backend_role

from otp_service.components import AuthMode, OtpService

backend = backend_role("backend")
otp = OtpService(
    "login-otp",
    {
        "brand_name": "Acme",
        "code_length": 8,
        "allowed_country_codes": ["1", "44"],
        "auth_mode": AuthMode.IAM,
        "alarm_email": "ops@acme.example",
        "log_retention_days": 90,
    },
)
aws.iam.RolePolicyAttachment(
    "backend-calls-otp", role=backend.name, policy_arn=otp.invoke_policy_arn
)

pulumi.export("otp_api_url", otp.api_url)
pulumi.export("otp_alarm_topic_arn", otp.alarm_topic_arn)
