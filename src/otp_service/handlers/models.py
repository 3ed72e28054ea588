"""The contract's request bodies, validated strictly, with destinations parsed for real."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from .errors import FieldError, InvalidRequest

if TYPE_CHECKING:
    import phonenumbers

UserId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@:+\-]{1,128}$")]
Locale = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,6}$")]
Channel = Literal["sms", "email"]

M = TypeVar("M", bound="_Body")

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_MAX_EMAIL_LENGTH = 254
# An unknown field is named back only when its name cannot be a code, phone number or address.
_PLAIN_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z_-]{0,63}")


class _Body(BaseModel):
    # Each body's validator is built on its first request: a function builds only its own.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, defer_build=True)


class RequestTokenBody(_Body):
    """POST /request-token."""

    user_id: UserId
    channel: Channel = "sms"
    destination: Annotated[str, Field(min_length=1, max_length=_MAX_EMAIL_LENGTH)]
    locale: Locale | None = None

    @field_validator("locale", mode="before")
    @classmethod
    def _locale_is_absent_or_a_string(cls, value: Any) -> Any:
        # An explicit null is refused like `"channel": null`: optional means "leave it out".
        if value is None:
            raise ValueError("null")  # worded by _FIELD_MESSAGES
        return value


class VerifyTokenBody(_Body):
    """POST /verify-token; the code's length is checked against the policy by `parse_code`."""

    user_id: UserId
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,32}$")]


class CancelTokenBody(_Body):
    """POST /cancel-token."""

    user_id: UserId


_USER_ID_RULE = "must be 1-128 characters of A-Z a-z 0-9 . _ @ : + -"
_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "string_type": "must be a string",
    "literal_error": "must be one of the allowed values",
    "string_pattern_mismatch": "has an invalid format",
    "string_too_short": "must not be empty",
    "string_too_long": "is too long",
}
_FIELD_MESSAGES = {
    ("user_id", "string_pattern_mismatch"): _USER_ID_RULE,
    ("user_id", "string_too_short"): _USER_ID_RULE,
    ("channel", "literal_error"): 'must be "sms" or "email"',
    ("locale", "string_pattern_mismatch"): "must be a BCP-47 language tag such as en or de-DE",
    ("destination", "string_too_long"): f"must be at most {_MAX_EMAIL_LENGTH} characters",
    ("code", "string_pattern_mismatch"): "must be a string of digits",
    ("locale", "value_error"): "must be a string (leave it out for the default)",
}
"""Where the generic words would not tell the caller what is allowed."""


def parse_body(model: type[M], body: dict[str, Any]) -> M:
    """Validate a JSON body; the 400 names each bad field but never echoes a value."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise InvalidRequest(
            *(
                _field_error(issue["loc"], issue["type"])
                for issue in error.errors(include_input=False, include_url=False)
            )
        ) from None


def _field_error(loc: tuple[int | str, ...], kind: str) -> FieldError:
    """One issue; an unknown field's name is the caller's text, so it is named only if plain."""
    name = ".".join(str(part) for part in loc)
    if not _PLAIN_FIELD_NAME.fullmatch(name):
        return FieldError("body", "has a field that is not known")
    return FieldError(name, _FIELD_MESSAGES.get((name, kind)) or _MESSAGES.get(kind, "is invalid"))


def parse_phone_number(destination: str) -> phonenumbers.PhoneNumber:
    """A valid E.164 phone number, or a 400 naming the destination field."""
    # Imported on first use: verify and cancel never parse a number, and their cold start
    # should not pay for the metadata (see bench/README.md).
    import phonenumbers  # noqa: PLC0415

    if not _E164.fullmatch(destination):
        raise InvalidRequest(FieldError("destination", "must be an E.164 phone number"))
    try:
        number = phonenumbers.parse(destination, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidRequest(FieldError("destination", "must be a valid phone number"))
    return number


def format_e164(number: phonenumbers.PhoneNumber) -> str:
    """A parsed number in canonical E.164 form."""
    import phonenumbers  # noqa: PLC0415 - loaded by parse_phone_number already

    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(destination: str) -> str:
    """A syntactically valid email address in normalized form, or a 400."""
    # Imported on first use: only email requests need it (see bench/README.md).
    from email_validator import EmailNotValidError, validate_email  # noqa: PLC0415

    # The validator also holds the normalized form to 254 bytes (RFC 5321), the contract's limit.
    try:
        valid = validate_email(destination, check_deliverability=False)
    except EmailNotValidError:
        raise InvalidRequest(FieldError("destination", "must be a valid email address")) from None
    return valid.normalized


def parse_code(code: str, length: int) -> str:
    """The submitted code when it has the configured number of digits, else a 400."""
    if len(code) != length:
        raise InvalidRequest(FieldError("code", f"must be {length} digits"))
    return code


def is_premium_rate(number: phonenumbers.PhoneNumber) -> bool:
    """Whether texting the number may cost more than a normal SMS or pay its holder.

    These are the toll-fraud targets: premium-rate, shared-cost, personal (UK `+44 70`, which
    forward at the sender's expense), universal-access, pager and voicemail numbers, and every
    number of a non-geographic calling code (satellite and international networks: `+881`,
    `+882`, `+883`, `+979`, ...). An OTP user needs none of them.
    """
    import phonenumbers  # noqa: PLC0415 - loaded by parse_phone_number already

    if phonenumbers.region_code_for_number(number) == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
        return True
    kind = phonenumbers.PhoneNumberType
    return phonenumbers.number_type(number) in {
        kind.PREMIUM_RATE,
        kind.SHARED_COST,
        kind.PERSONAL_NUMBER,
        kind.UAN,
        kind.PAGER,
        kind.VOICEMAIL,
    }
