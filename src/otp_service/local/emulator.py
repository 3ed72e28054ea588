"""moto's server mode, in this process, on a free loopback port; the only AWS otp-local talks to.

The functions' own calls skip the loopback HTTP hop (`answer_in_process`): they reach the same
backends, but a call costs moto's work only, not a TCP connection, werkzeug and Flask as well.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .atomic import make_dynamodb_atomic

LOOPBACK = "127.0.0.1"
_AWS_HOSTS = {
    "dynamodb": "dynamodb",
    "dynamodb-streams": "streams.dynamodb",
    "kms": "kms",
    "ses": "email",
    "sns": "sns",
    "sqs": "sqs",
}
"""botocore's service id (as in its event names) -> the host prefix moto routes on."""
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
_CREDENTIAL_SOURCES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)


@dataclass
class Emulator:
    """A running moto server; `url` is its endpoint."""

    url: str
    _server: Any

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        self._server.stop()


def start_emulator() -> Emulator:
    """Start moto's server on 127.0.0.1 with an OS-chosen port, DynamoDB made atomic."""
    from moto.moto_server.threaded_moto_server import (  # noqa: PLC0415 - moto loads slowly
        ThreadedMotoServer,
    )

    # werkzeug logs every emulator call; otp-local logs the API's requests instead.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    make_dynamodb_atomic()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return Emulator(f"http://{host}:{port}", server)


def point_aws_at(emulator: Emulator, region: str) -> None:
    """Make every boto3 client of this process use the emulator, with fake credentials.

    Anything that could lead a client to a real account (profiles, tokens, config files,
    instance metadata) is removed, so a mistake fails against moto rather than reaching AWS.
    """
    for name in _CREDENTIAL_SOURCES:
        os.environ.pop(name, None)
    os.environ.update(
        {
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": emulator.url,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )


def answer_in_process(session: Any) -> None:
    """Answer the calls of this boto3 session's clients from the emulator's backends directly.

    Register before the session makes a client. A call to a service not listed here still goes
    to the emulator over loopback, so nothing can reach AWS through this path either.
    """
    session.events.register("before-send", _answer)


def _answer(request: Any, event_name: str, **_: Any) -> Any:
    from botocore.awsrequest import AWSPreparedRequest, AWSResponse  # noqa: PLC0415
    from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse  # noqa: PLC0415
    from moto.core.models import botocore_stubber  # noqa: PLC0415

    if botocore_stubber.enabled:
        # Under `mock_aws` (tests) moto's own hook answers too: botocore calls every
        # `before-send` hook and takes the first answer, so answering here would run the call
        # twice.
        return None
    host = _AWS_HOSTS.get(event_name.split(".")[1])
    region = _signed_region(request.headers.get("Authorization"))
    if host is None or region is None:
        return None
    url = urlsplit(request.url)
    query = f"?{url.query}" if url.query else ""
    # moto routes a request by its AWS host name, and reads the region from its signature.
    as_sent_to_aws = AWSPreparedRequest(
        method=request.method,
        url=f"https://{host}.{region}.amazonaws.com{url.path}{query}",
        headers=request.headers,
        body=request.body,
        stream_output=False,
    )
    answer = _dispatch(as_sent_to_aws) or BotocoreStubber().process_request(as_sent_to_aws)
    if answer is None:
        return None
    status, headers, body = answer
    return AWSResponse(request.url, status, headers, MockRawResponse(body))


_ROUTES: dict[str, Any] = {}
"""`https://host/path` -> the moto handler that answers it (None: let moto's stubber decide)."""


def _dispatch(request: Any) -> Any:
    """moto's `BotocoreStubber.process_request`, with the handler found once per URL.

    The stubber matches each call's URL against the URL pattern of every service moto knows
    and rebuilds the backend's URL table, per call; here that search runs once per URL (the
    functions call a handful). None when moto's stubber should answer instead.
    """
    from moto.core.request import normalize_request  # noqa: PLC0415
    from moto.moto_api import recorder  # noqa: PLC0415
    from werkzeug.exceptions import HTTPException  # noqa: PLC0415

    url = urlsplit(request.url)
    clean_url = f"{url.scheme}://{url.netloc}{url.path}"
    if clean_url not in _ROUTES:
        _ROUTES[clean_url] = _handler_for(clean_url)
    handler = _ROUTES[clean_url]
    if handler is None:
        return None
    normalized = normalize_request(request)
    try:
        recorder._record_request(normalized)
        return handler(normalized, normalized.raw_url, normalized.headers)
    except HTTPException as error:
        return error.code, error.get_headers(), error.get_body()


def _handler_for(clean_url: str) -> Any:
    """The handler moto's stubber would pick for a URL of the default account's backend."""
    from moto import backends  # noqa: PLC0415
    from moto.backend_index import backend_url_patterns  # noqa: PLC0415
    from moto.core.base_backend import BackendDict  # noqa: PLC0415
    from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415

    matching = (name for name, pattern in backend_url_patterns if pattern.match(clean_url))
    service = next(matching, None)
    if service is None:
        return None
    backend_dict: Any = backends.get_backend(service)  # type: ignore[call-overload]
    if not isinstance(backend_dict, BackendDict):
        return None
    regions = backend_dict[DEFAULT_ACCOUNT_ID]
    backend = regions["us-east-1"] if "us-east-1" in regions else regions["aws"]
    return next(
        (handler for url, handler in backend.urls.items() if re.compile(url).match(clean_url)),
        None,
    )


def _signed_region(authorization: str | bytes | None) -> str | None:
    """`AWS4-HMAC-SHA256 Credential=key/date/us-east-1/dynamodb/aws4_request, ...` -> region."""
    if isinstance(authorization, bytes):
        authorization = authorization.decode()
    if not authorization or "Credential=" not in authorization:
        return None
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    return scope[2] if len(scope) == 5 else None
