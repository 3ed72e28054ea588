"""POST /verify-token: accept a code at most once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .api import lambda_handler
from .container import Container, end_of_init
from .http import json_body
from .models import VerifyTokenBody, parse_body
from .service import Answer, verify_token


def operation(container: Container, event: Mapping[str, Any]) -> Answer:
    """Parse the event and run the rule over this container's collaborators."""
    return verify_token(
        parse_body(VerifyTokenBody, json_body(event)),
        now=container.now(),
        policy=container.settings.policy,
        store=container.store,
        keyring=container.keyring,
    )


handler = lambda_handler(operation)
"""The Lambda entry point."""

end_of_init()
