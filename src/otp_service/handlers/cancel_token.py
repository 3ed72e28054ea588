"""POST /cancel-token: burn the pending code; idempotent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .api import lambda_handler
from .container import Container, end_of_init
from .http import json_body
from .models import CancelTokenBody, parse_body
from .service import Answer, cancel_token


def operation(container: Container, event: Mapping[str, Any]) -> Answer:
    """Parse the event and run the rule over this container's collaborators."""
    body = parse_body(CancelTokenBody, json_body(event))
    return cancel_token(body, now=container.now(), store=container.store)


handler = lambda_handler(operation)
"""The Lambda entry point."""

end_of_init()
