"""Hosts `OtpService` for every Pulumi language as the `otp` package (schema from its types)."""

from pulumi.provider.experimental import component_provider_host

from otp_service.components import OtpService

if __name__ == "__main__":
    component_provider_host(name="otp", components=[OtpService])
