"""The text of the SMS and email that carry a code, in the supported languages."""

from __future__ import annotations

from dataclasses import dataclass


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
class Message:
    """A rendered message: the SMS text, or an email's subject and body."""

    subject: str
    body: str


def template_for(locale: str | None) -> Template:
    """The template for a BCP-47 tag's language; unknown languages fall back to English."""
    language = (locale or "en").split("-", 1)[0].lower()
    return TEMPLATES.get(language, TEMPLATES["en"])


def render(channel: str, locale: str | None, brand: str, code: str, ttl_seconds: int) -> Message:
    """The message that delivers `code` over `channel`."""
    template = template_for(locale)
    if ttl_seconds % 60 == 0:
        n, one, many = ttl_seconds // 60, template.minute, template.minutes
    else:
        n, one, many = ttl_seconds, template.second, template.seconds
    lifetime = one if n == 1 else many.format(n=n)
    fill = {"brand": brand, "code": code, "lifetime": lifetime}
    if channel == "sms":
        return Message(subject="", body=template.sms.format(**fill))
    return Message(subject=template.subject.format(**fill), body=template.email.format(**fill))
