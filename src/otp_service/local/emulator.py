"""moto's server mode, in this process, on a free loopback port; the only AWS otp-local talks to."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from .atomic import make_dynamodb_atomic

LOOPBACK = "127.0.0.1"
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
