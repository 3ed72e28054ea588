"""POST /request-token: send a fresh code by SMS or email."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .api import lambda_handler
from .container import Container, end_of_init
from .http import header, json_body
from .models import RequestTokenBody, parse_body
from .sending import request_token
from .service import Answer


def operation(container: Container, event: Mapping[str, Any]) -> Answer:
    """Parse the event and run the rule over this container's collaborators."""
    return request_token(
        parse_body(RequestTokenBody, json_body(event)),
        header(event, "Idempotency-Key"),
        now=container.now(),
        policy=container.settings.policy,
        brand_name=container.settings.brand_name,
        store=container.store,
        keyring=container.keyring,
        sender=container.sender,
        fraud_guard=container.settings.fraud_guard,
        autofill=container.settings.autofill,
    )


handler = lambda_handler(operation)
"""The Lambda entry point."""

end_of_init()
