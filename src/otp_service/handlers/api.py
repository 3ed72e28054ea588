"""The shell every handler shares: errors to contract answers, never a stack trace out."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from .errors import error_code, is_transient
from .http import ApiError, error_response, internal_error, response, service_unavailable
from .observability import count, logger
from .runtime import Runtime, current
from .service import Answer

Operation = Callable[[Runtime, Mapping[str, Any]], Answer]


def serve(event: Mapping[str, Any], operation: Operation) -> dict[str, Any]:
    """Run `operation` on the event and map every outcome to a proxy response."""
    try:
        answer = operation(current(), event)
    except ApiError as error:
        if error.code == "invalid_request":
            count("InvalidRequest", "unknown")
        return error_response(error)
    except Exception as error:  # noqa: BLE001 - every failure must become a contract answer
        aws_code = error_code(error) if isinstance(error, ClientError) else None
        # Only the type, the AWS error code and the frames: messages can quote PII.
        details: dict[str, Any] = {"error": type(error).__name__, "aws_error_code": aws_code}
        if is_transient(error):
            count("DependencyUnavailable", "unknown")
            logger.warning("dependency unavailable", extra=details)
            return error_response(service_unavailable())
        details["frames"] = traceback.format_tb(error.__traceback__)
        logger.error("unexpected error", extra=details)
        return internal_error()
    return response(answer.status, answer.body)
