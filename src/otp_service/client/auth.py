"""How a call proves who sends it: SigV4 (the default in the cloud), an API key, or nothing."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import botocore.session
from botocore.auth import SigV4Auth as _BotocoreSigV4
from botocore.awsrequest import AWSRequest

_EXECUTE_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")


class Auth(Protocol):
    """Adds the headers that authenticate one request."""

    def headers(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        """The request's headers with authentication added."""
        ...


class NoAuth:
    """No caller authentication: `otp-local` started without `--api-key`."""

    def headers(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        return dict(headers)


class ApiKeyAuth:
    """The usage plan's API key in `x-api-key` (the component's `authMode: apiKey`)."""

    def __init__(self, api_key: str) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        self._api_key = api_key

    def headers(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        return {**headers, "x-api-key": self._api_key}

    def __repr__(self) -> str:
        return "ApiKeyAuth(api_key=***)"


class SigV4Auth:
    """IAM authorization: each request signed by botocore for `execute-api`.

    Credentials come from the standard AWS chain (environment, profile, SSO, container or
    instance role) of `session`, read again for every request so refreshed ones are used.
    The region is `region`, else the one in an `execute-api` URL, else the session's.
    """

    service = "execute-api"

    def __init__(
        self, region: str | None = None, session: botocore.session.Session | None = None
    ) -> None:
        self._session = session or botocore.session.get_session()
        self._region = region

    def headers(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        credentials = self._session.get_credentials()
        if credentials is None:
            raise RuntimeError(
                "no AWS credentials found for SigV4 (environment, profile or role); "
                "or use ApiKeyAuth"
            )
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
        signer: Any = _BotocoreSigV4(
            credentials.get_frozen_credentials(), self.service, self.region_for(url)
        )
        signer.add_auth(request)
        return dict(request.headers.items())

    def region_for(self, url: str) -> str:
        """The region the request is signed for."""
        if self._region:
            return self._region
        match = _EXECUTE_API_HOST.match(urlsplit(url).hostname or "")
        if match:
            return match.group(1)
        region = self._session.get_config_variable("region")
        if not region:
            raise RuntimeError("cannot tell the API's region: pass SigV4Auth(region=...)")
        return str(region)
