"""Masked destinations: enough for a person to recognise, too little to contact."""

_PHONE_MASK = "******"


def mask_destination(channel: str, destination: str) -> str:
    """`+1415******23` for a phone number, `j***@example.com` for an email address."""
    if channel == "sms":
        digits = destination.lstrip("+")
        return f"+{digits[:4]}{_PHONE_MASK}{digits[-2:]}"
    local, _, domain = destination.rpartition("@")
    return f"{local[:1]}***@{domain}"
