"""The text of the SMS and email that carry a code, in the supported languages."""

from __future__ import annotations

import math
from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
"""3GPP TS 23.038: the default alphabet and its extension table (two septets each)."""
GSM7_SEGMENT = 160
"""Septets in one SMS (140 bytes); a longer GSM-7 text goes in parts of 153."""


@dataclass(frozen=True)
class Template:
    """One language's wording; `{brand}`, `{code}` and `{lifetime}` are filled in."""

    sms: str
    subject: str
    email: str
    minute: str
    minutes: str
    second: str
    seconds: str


TEMPLATES = {
    "en": Template(
        sms="{brand}: your verification code is {code}. It expires in {lifetime}. "
        "Do not share it with anyone.",
        subject="{brand} verification code",
        email="Your {brand} verification code is {code}.\n\nIt expires in {lifetime}. "
        "Do not share this code with anyone; {brand} will never ask you for it.\n",
        minute="1 minute",
        minutes="{n} minutes",
        second="1 second",
        seconds="{n} seconds",
    ),
    "de": Template(
        sms="{brand}: Ihr Bestätigungscode lautet {code}. Er läuft in {lifetime} ab. "
        "Geben Sie ihn an niemanden weiter.",
        subject="{brand} Bestätigungscode",
        email="Ihr {brand}-Bestätigungscode lautet {code}.\n\nEr läuft in {lifetime} ab. "
        "Geben Sie diesen Code an niemanden weiter; {brand} wird Sie nie danach fragen.\n",
        minute="1 Minute",
        minutes="{n} Minuten",
        second="1 Sekunde",
        seconds="{n} Sekunden",
    ),
    "fr": Template(
        sms="{brand} : votre code de vérification est {code}. Il expire dans {lifetime}. "
        "Ne le partagez avec personne.",
        subject="Code de vérification {brand}",
        email="Votre code de vérification {brand} est {code}.\n\nIl expire dans {lifetime}. "
        "Ne partagez ce code avec personne ; {brand} ne vous le demandera jamais.\n",
        minute="1 minute",
        minutes="{n} minutes",
        second="1 seconde",
        seconds="{n} secondes",
    ),
    "es": Template(
        # "clave temporal", not "código de verificación": ó is outside GSM-7, and one such
        # character makes the whole SMS UCS-2 (70 characters a part, so two parts).
        sms="{brand}: tu clave temporal es {code}. Caduca en {lifetime}. "
        "No la compartas con nadie.",
        subject="Código de verificación de {brand}",
        email="Tu código de verificación de {brand} es {code}.\n\nCaduca en {lifetime}. "
        "No compartas este código con nadie; {brand} nunca te lo pedirá.\n",
        minute="1 minuto",
        minutes="{n} minutos",
        second="1 segundo",
        seconds="{n} segundos",
    ),
}


@dataclass(frozen=True)
class Autofill:
    """Lines that let the phone take the code out of the SMS by itself; both are optional."""

    web_otp_domain: str | None = None
    """The site the code is bound to: WebOTP and `autocomplete="one-time-code"` fill it in there."""
    android_app_hash: str | None = None
    """The Android app's 11-character hash: its SMS Retriever then reads the SMS unasked."""

    def lines(self, code: str) -> list[str]:
        """The lines to append to an SMS carrying `code`, in the order the formats need."""
        lines = []
        # SMS Retriever: the message must "include an 11-character hash string that identifies
        # your app" and be "no longer than 140 bytes" (one GSM-7 segment); anywhere will do.
        # https://developers.google.com/identity/sms-retriever/verify#1_construct_a_verification_message
        if self.android_app_hash:
            lines.append(self.android_app_hash)
        # Origin-bound one-time codes: the LAST line is `@<host> #<code>`, so it comes after the
        # hash. https://web.dev/articles/web-otp ("Format the SMS message"),
        # https://wicg.github.io/sms-one-time-codes/ (the origin-bound one-time code format).
        if self.web_otp_domain:
            lines.append(f"@{self.web_otp_domain} #{code}")
        return lines


NO_AUTOFILL = Autofill()


@dataclass(frozen=True)
class Message:
    """A rendered message: the SMS text, or an email's subject and body."""

    subject: str
    body: str


def template_for(locale: str | None) -> Template:
    """The template for a BCP-47 tag's language; unknown languages fall back to English."""
    language = (locale or "en").split("-", 1)[0].lower()
    return TEMPLATES.get(language, TEMPLATES["en"])


def render(
    channel: str,
    locale: str | None,
    brand: str,
    code: str,
    ttl_seconds: int,
    autofill: Autofill = NO_AUTOFILL,
) -> Message:
    """The message that delivers `code` over `channel`; an SMS ends with the autofill lines."""
    template = template_for(locale)
    if ttl_seconds % 60 == 0:
        n, one, many = ttl_seconds // 60, template.minute, template.minutes
    else:
        n, one, many = ttl_seconds, template.second, template.seconds
    lifetime = one if n == 1 else many.format(n=n)
    fill = {"brand": brand, "code": code, "lifetime": lifetime}
    if channel == "sms":
        body = "\n".join([template.sms.format(**fill), *autofill.lines(code)])
        return Message(subject="", body=body)
    return Message(subject=template.subject.format(**fill), body=template.email.format(**fill))


def sms_segments(text: str) -> tuple[str, int, int]:
    """The encoding an SMS needs, its length in that encoding's units, and its segment count."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        septets = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
        return "GSM-7", septets, 1 if septets <= GSM7_SEGMENT else math.ceil(septets / 153)
    units = len(text.encode("utf-16-le")) // 2
    return "UCS-2", units, 1 if units <= 70 else math.ceil(units / 67)
