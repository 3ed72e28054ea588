"""What a container builds once: settings, AWS clients and the collaborators that use them."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from .settings import ENV_MAC_KEY_ID, Settings, load_settings
from .store import OtpStore

if TYPE_CHECKING:
    from .delivery import MessageSender
    from .keys import MacKeyring

# Bounded so the slowest path ends inside the function's 25 s timeout (tests/security/test_faults.py
# sums every path's worst case from these settings). Connecting: a fresh TLS connection to a
# regional endpoint takes tens of milliseconds (2-35 ms measured from this project's build host to
# a CDN-fronted endpoint), but Linux retransmits a lost SYN only after 1 s, so a 0.25 s connect
# timeout turned one lost packet into a failed attempt; 1.1 s survives one retransmission.
# Reading: a DynamoDB or KMS answer takes single-digit milliseconds (bench/results), 0.75 s is a
# stall. No verify makes more than three calls to the data stores (a cold start after a rotation:
# two subkeys and its one write), each at most 4.7 s (two 1.85 s attempts and a 1 s throttling
# backoff), so 14.1 s...
DATA_CONFIG = Config(
    connect_timeout=1.1, read_timeout=0.75, retries={"mode": "standard", "total_max_attempts": 2}
)
SEND_CONFIG = Config(
    connect_timeout=1.0, read_timeout=3.0, retries={"mode": "standard", "total_max_attempts": 1}
)


class Container:
    """One function container's collaborators, each built on first use."""

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        session: Any = None,
        data_config: Config = DATA_CONFIG,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.session = session if session is not None else boto3.session.Session()
        self.data_config = data_config
        """How DynamoDB and KMS are called; the local stack loosens it for its slower emulator."""

    def now(self) -> int:
        """The current time in whole epoch seconds."""
        return int(self.clock())

    @cached_property
    def store(self) -> OtpStore:
        """The table access object."""
        return OtpStore(
            self.session.client("dynamodb", config=self.data_config), self.settings.table_name
        )

    @cached_property
    def keyring(self) -> MacKeyring:
        """The MAC subkeys, derived from the KMS keys on first use."""
        # Imported by the routes that use it (cancel-token does not; see test_cold_start.py).
        from .keys import MacKeyring  # noqa: PLC0415

        if self.settings.mac_key_id is None:
            raise RuntimeError(f"{ENV_MAC_KEY_ID} is not set for this function")
        return MacKeyring(
            self.session.client("kms", config=self.data_config),
            self.settings.mac_key_id,
            self.settings.retired_mac_key_id,
        )

    @cached_property
    def sender(self) -> MessageSender:
        """The SMS and email sender."""
        from .delivery import MessageSender  # noqa: PLC0415 - request-token's alone, as above

        return MessageSender(
            lambda: self.session.client("sns", config=SEND_CONFIG),
            lambda: self.session.client("ses", config=SEND_CONFIG),
            self.settings.email_sender,
            self.settings.sms_sender_id,
            self.settings.sms_origination_number,
            self.settings.receipts_configuration_set,
        )


@cache
def from_environment() -> Container:
    """This container's collaborators, from the function's environment, built once."""
    return Container(load_settings())


def end_of_init() -> None:
    """Mark the end of a function's init phase (the last statement of its module).

    Everything imported so far (modules, classes, pydantic's validators) lives as long as the
    container and holds no garbage, yet every full collection of the cycle collector would
    scan it all: the first request's allocations set one off, 15-30 ms of a cold start (bench
    item 2). Frozen (`gc.freeze`), those objects are never scanned again; collections see only
    what requests allocate. With SnapStart the snapshot keeps them frozen.
    """
    gc.freeze()
