"""Lambda handlers of the OTP service: `request_token`, `verify_token` and `cancel_token`."""

__all__: list[str] = []
