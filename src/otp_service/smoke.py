"""`otp-smoke --stack dev`: prove a deployed stack end to end against one of its test destinations.

Runs request -> verify -> replay -> cancel with the project's own client (SigV4 by default, the
API key in API-key mode) and prints each step. The API comes from `pulumi stack output --json`
(`--outputs FILE`) or `--api-url`; the destination and its fixed code from the stack's
`testDestinations`, so nothing is sent and nothing is spent. CI runs the same code against
`otp-local`.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .client import ApiKeyAuth, Auth, InvalidCode, NoAuth, OtpClient, OtpError
from .components.options import InvalidArgumentError
from .handlers.masking import mask_destination
from .local.pulumi_config import ConfigError
from .preflight import load_options


class SmokeFailed(Exception):
    """A step answered differently from the contract."""


@dataclass(frozen=True)
class SmokeTarget:
    """Where the smoke test sends: a configured test destination and its fixed code."""

    destination: str
    code: str

    @property
    def channel(self) -> str:
        """sms for a phone number, email for an address."""
        return "email" if "@" in self.destination else "sms"


def run_smoke(
    client: OtpClient, target: SmokeTarget, user_id: str, say: Callable[[str], None] = print
) -> None:
    """The four steps; raises `SmokeFailed` at the first one that does not behave."""
    masked = mask_destination(target.channel, target.destination)
    pending = client.request_token(user_id, target.destination, channel=target.channel)
    if pending.destination != masked:
        raise SmokeFailed(f"request-token answered destination {pending.destination!r}")
    say(f"ok  request-token  202 pending, {masked}, expires in {pending.expires_in} s")
    client.verify_token(user_id, target.code)
    say("ok  verify-token   200 approved with the fixed code")
    try:
        client.verify_token(user_id, target.code)
    except InvalidCode:
        say("ok  replay         400 invalid_code: the code was accepted once")
    else:
        raise SmokeFailed("a used code was accepted a second time")
    client.cancel_token(user_id)
    say("ok  cancel-token   200 canceled")


def smoke_target(stack: str, overrides: Sequence[str], directory: Path) -> SmokeTarget:
    """The stack's first test destination (sorted), from its configuration."""
    options, _ = load_options(stack, overrides, directory)
    destinations = options.policy.test_destinations
    if not destinations:
        raise ConfigError(f"stack {stack!r} has no testDestinations; add one to smoke-test it")
    destination = min(destinations)
    return SmokeTarget(destination, destinations[destination])


def _client(args: argparse.Namespace) -> OtpClient:
    if args.outputs:
        outputs = json.loads(Path(args.outputs).read_text())
        return OtpClient.from_stack_outputs(outputs, api_key=args.api_key)
    auth: Auth | None = None
    if args.api_key:
        auth = ApiKeyAuth(args.api_key)
    elif args.no_auth:
        auth = NoAuth()
    return OtpClient(args.api_url, auth)


def main(argv: Sequence[str] | None = None) -> int:
    """0 when every step behaved as the contract says, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="otp-smoke", description=__doc__)
    parser.add_argument("--stack", required=True, help="the stack whose testDestinations to use")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--outputs", help="a `pulumi stack output --json` file")
    where.add_argument("--api-url", help="the API's base URL (the stack's api_url)")
    parser.add_argument("--api-key", help="call with this API key (API-key mode)")
    parser.add_argument("--no-auth", action="store_true", help="unsigned calls (otp-local)")
    parser.add_argument("-c", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    try:
        target = smoke_target(args.stack, args.overrides, Path.cwd())
        client = _client(args)
    except (ConfigError, InvalidArgumentError, ValueError, OSError) as error:
        print(f"otp-smoke: {error}", file=sys.stderr)
        return 1
    user_id = f"otp-smoke-{secrets.token_hex(6)}"
    print(f"otp-smoke: {client.base_url}, user {user_id}")
    try:
        run_smoke(client, target, user_id)
    except (SmokeFailed, OtpError) as error:
        print(f"FAIL {type(error).__name__}: {error}")
        return 1
    print("smoke test passed")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
