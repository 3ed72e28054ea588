"""POST /request-token: send a fresh code by SMS or email."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from .api import serve
from .http import header, json_body
from .models import RequestTokenBody, parse_body
from .observability import logger
from .runtime import Runtime
from .service import Answer, request_token


def _operation(rt: Runtime, event: Mapping[str, Any]) -> Answer:
    body = parse_body(RequestTokenBody, json_body(event))
    return request_token(rt, body, header(event, "Idempotency-Key"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point."""
    return serve(event, _operation)
