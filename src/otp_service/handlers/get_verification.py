"""GET /verifications/{verification_id}: the state of one verification."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .api import lambda_handler
from .container import Container, end_of_init
from .errors import VerificationNotFound
from .service import Answer
from .verifications import VerificationReader


def operation(container: Container, event: Mapping[str, Any]) -> Answer:
    """Read the verification the path names, over this container's table client."""
    verification_id = (event.get("pathParameters") or {}).get("verification_id")
    if not isinstance(verification_id, str):
        raise VerificationNotFound
    reader = VerificationReader(container.store.client, container.settings.table_name)
    retention = container.settings.policy.verification_retention_days * 86_400
    found = reader.describe(verification_id, container.now(), retention)
    if found is None:
        raise VerificationNotFound
    return Answer(200, found)


handler = lambda_handler(operation)
"""The Lambda entry point."""

end_of_init()
