"""OTP service for AWS: Lambda handlers, the `OtpService` Pulumi component and a local stack.

The subpackages live in the repository's top-level folders and are installed under this name,
so a consumer's site-packages never gains a bare `components` or `handlers` package.
"""

__all__: list[str] = []
