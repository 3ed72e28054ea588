"""The `OtpService` Pulumi component and its arguments."""

from .options import AuthMode, InvalidArgumentError, OtpServiceArgs
from .otp_service import OtpService

__all__ = ["AuthMode", "InvalidArgumentError", "OtpService", "OtpServiceArgs"]
