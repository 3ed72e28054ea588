"""The outbox as a web page (`GET /_local/`): static files shipped in the package.

The page polls `/_local/outbox` and `/_local/events` and draws them with `textContent` only.
Its Content-Security-Policy allows nothing but this origin: no script, style, font or request
can reach anything outside the loopback server that served it.
"""

from __future__ import annotations

from importlib import resources

from ..proxy_integration import HttpResponse

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HEADERS = [
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
]
_FILES = {
    "/_local/": ("index.html", "text/html; charset=utf-8"),
    "/_local/outbox.js": ("outbox.js", "text/javascript; charset=utf-8"),
    "/_local/outbox.css": ("outbox.css", "text/css; charset=utf-8"),
}


def page_files() -> dict[str, HttpResponse]:
    """The page's answers by path, read once from the package."""
    folder = resources.files(__package__)
    return {
        path: HttpResponse(
            200, [("Content-Type", content_type), *_HEADERS], (folder / name).read_bytes()
        )
        for path, (name, content_type) in _FILES.items()
    }
