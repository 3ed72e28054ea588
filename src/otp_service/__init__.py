"""OTP service for AWS: Lambda handlers, the `OtpService` Pulumi component and a local stack.

`otp_service.handlers` is the code that ships to Lambda, `otp_service.components` the Pulumi
component, and `otp_service.local` the local stack (installed with the `[local]` extra).
"""

__all__: list[str] = []
