"""Masked destinations: enough for a person to recognise, too little to contact.

A masked value never narrows a destination down to fewer than 100 000 candidates: a phone
number keeps at least five digits hidden (the whole subscriber number of the shortest valid
numbers, e.g. Niue's `+683 7012`), and an email address shows its first character only when
at least three more stay hidden. The mask has the same width whatever it hides, so it does
not tell a number's length either.
"""

_MASK = "******"
_EMAIL_MASK = "***"
_MIN_HIDDEN_DIGITS = 5
"""10**5 candidates for any masked number, in whatever country."""
_SHOWN_PREFIX_DIGITS = 4
"""The calling code and some of the area: who the number is with, not who it is."""
_SHOWN_SUFFIX_DIGITS = 2
_MIN_HIDDEN_EMAIL_CHARACTERS = 3


def mask_destination(channel: str, destination: str) -> str:
    """`+1415******23` for a phone number, `j***@example.com` for an email address."""
    if channel == "sms":
        return mask_phone_number(destination)
    return mask_email_address(destination)


def mask_phone_number(number: str) -> str:
    """An E.164 number with at least five digits hidden; the ends show only when it is long."""
    digits = number.lstrip("+")
    shown = max(0, len(digits) - _MIN_HIDDEN_DIGITS)
    prefix = min(_SHOWN_PREFIX_DIGITS, shown)
    suffix = min(_SHOWN_SUFFIX_DIGITS, shown - prefix)
    return f"+{digits[:prefix]}{_MASK}{digits[len(digits) - suffix :]}"


def mask_email_address(address: str) -> str:
    """The domain, and the local part's first character when at least three more are hidden."""
    local, _, domain = address.rpartition("@")
    shown = local[:1] if len(local) > _MIN_HIDDEN_EMAIL_CHARACTERS else ""
    return f"{shown}{_EMAIL_MASK}@{domain}"
