"""otp-local: the service on one machine, on loopback, against an in-process AWS emulator."""

__all__: list[str] = []
