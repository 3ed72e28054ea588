"""POST /verify-token: accept a code at most once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from .api import serve
from .http import json_body
from .models import VerifyTokenBody, parse_body
from .observability import logger
from .runtime import Runtime
from .service import Answer, verify_token


def _operation(rt: Runtime, event: Mapping[str, Any]) -> Answer:
    return verify_token(rt, parse_body(VerifyTokenBody, json_body(event)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point."""
    return serve(event, _operation)
