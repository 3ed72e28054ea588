"""`otp-local`: the OTP service on loopback, derived from the stack program, against moto."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType

import boto3

from ..handlers.settings import ENV_EMAIL_SENDER
from .api_gateway import LocalGateway
from .atomic import sweep_expired_items
from .clock import LocalClock
from .console import Console
from .control import LocalControl
from .emulator import Emulator, point_aws_at, start_emulator
from .faults import FaultInjector
from .functions import FunctionHost, export_shared_environment
from .http_server import LocalServer, is_loopback
from .outbox import capture_deliveries
from .provision import run_program
from .pulumi_config import ConfigError, Project, find_project, parse_override, stack_config
from .receipts import ReceiptSimulator, receipt_wiring
from .routes import DeclaredApi, FunctionSpec, declared_api_of
from .streams import StreamPoller, stream_mappings

TTL_SWEEP_INTERVAL_SECONDS = 5.0
"""How often expired items are deleted from the emulator's tables."""
SMS_RECEIPTS_KEY = "smsDeliveryReceipts"
"""On by default locally (`_with_local_defaults`)."""
PLACEHOLDER_EMAIL_SENDER = "otp-local@example.com"
"""The sender of captured email when the stack configures none, so both channels just work."""

LOCAL_ROUTES_HELP = """\
local-only routes (absent in the cloud):
  GET    /_local/          the outbox as a web page: messages and events, newest first, live
  GET    /_local/health    {"status": "ok"}
  GET    /_local/outbox    captured SMS and email, oldest first, unmasked
  GET    /_local/events    the lifecycle events published, oldest first
  DELETE /_local/outbox    empty the outbox
  GET    /_local/clock     the handlers' clock; POST {"advance_seconds": n} moves it forward
  POST   /_local/faults    {"operation": "sns.Publish", "code": "..."} makes an AWS call fail
  DELETE /_local/faults    remove every injected fault

Email is captured too: without an emailSender in the stack, the sender is PLACEHOLDER.
""".replace("PLACEHOLDER", PLACEHOLDER_EMAIL_SENDER)


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line API.md specifies."""
    parser = argparse.ArgumentParser(
        prog="otp-local",
        description="Serve the OTP service on loopback, backed by an in-process AWS emulator.",
        epilog=LOCAL_ROUTES_HELP,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=8080, help="port to bind (0: any free one)")
    parser.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml to read")
    parser.add_argument(
        "-c",
        "--config",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, as `pulumi config set KEY VALUE` would (repeatable; "
        "default: none)",
    )
    parser.add_argument(
        "--api-key",
        help="require this value in the x-api-key header of every contract route "
        "(default: no caller auth)",
    )
    arguments = parser.parse_args(argv)
    if not is_loopback(arguments.host):
        parser.error(f"--host must be a loopback address such as 127.0.0.1, not {arguments.host}")
    return arguments


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults after each option, and the epilog's table kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default == [] or "default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


@dataclass
class _Stop:
    """Set by SIGINT or SIGTERM."""

    event: threading.Event

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.event.set()


def main(argv: Sequence[str] | None = None) -> int:
    """Start everything, serve until SIGINT or SIGTERM, and stop cleanly (exit code 0)."""
    arguments = parse_arguments(argv)
    logging.basicConfig(level=logging.WARNING, format="otp-local: %(message)s")
    stop = _Stop(threading.Event())
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    console = Console(sys.stdout)
    try:
        project = _with_local_defaults(_project())
        overrides = [parse_override(text) for text in arguments.overrides]
        config = stack_config(project, arguments.stack, overrides)
    except ConfigError as error:
        print(f"otp-local: {error}", file=sys.stderr)
        return 2
    if not config.get(f"{project.name}:emailSender"):
        config[f"{project.name}:emailSender"] = PLACEHOLDER_EMAIL_SENDER
    try:
        server = LocalServer(arguments.host, arguments.port, console.request)
    except OSError as error:
        reason = error.strerror or str(error)
        print(
            f"otp-local: cannot listen on {arguments.host} port {arguments.port}: {reason}"
            + (
                " (pick another with --port, or --port 0 for any free one)"
                if arguments.port
                else ""
            ),
            file=sys.stderr,
        )
        return 2
    emulator = start_emulator()
    streams: StreamPoller | None = None
    receipts: ReceiptSimulator | None = None
    try:
        functions, api, streams, receipts = _start(
            project, arguments.stack, config, emulator, server, console
        )
        server.serve_in_background(
            LocalGateway(api, functions, arguments.api_key),
            LocalControl(console.outbox, functions.clock, functions.faults, console.events),
        )
        streams.start()
        receipts.start()
        console.ready(project.name, arguments.stack, api, emulator.url, server.url)
        threading.Thread(
            target=_sweep_expired_items, args=(functions.clock, stop.event), daemon=True
        ).start()
        stop.event.wait()
        console.line("otp-local: stopping")
        server.shutdown()
    except Exception as error:  # noqa: BLE001 - any startup failure ends the command with its cause
        print(f"otp-local: could not start: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    finally:
        server.server_close()
        if streams is not None:
            streams.stop()
        if receipts is not None:
            receipts.stop()
        emulator.stop()
    return 0


def _sweep_expired_items(clock: LocalClock, stopped: threading.Event) -> None:
    """Delete expired items every few seconds, as DynamoDB's TTL process does (in days, there)."""
    while not stopped.wait(TTL_SWEEP_INTERVAL_SECONDS):
        sweep_expired_items(clock())


def _with_local_defaults(project: Project) -> Project:
    """SMS receipts on unless the stack says otherwise: here they are simulated, and depend on
    no account's SMS logging."""
    spec = dict(project.schema.get(SMS_RECEIPTS_KEY) or {})
    return replace(project, schema={**project.schema, SMS_RECEIPTS_KEY: {**spec, "default": True}})


def _project() -> Project:
    """The project around the working directory, else the one this package is installed from."""
    try:
        return find_project(Path.cwd())
    except ConfigError:
        return find_project(Path(__file__).resolve().parent)


def _start(
    project: Project,
    stack: str,
    config: dict[str, str],
    emulator: Emulator,
    server: LocalServer,
    console: Console,
) -> tuple[FunctionHost, DeclaredApi, StreamPoller, ReceiptSimulator]:
    region = config.get("aws:region", "us-east-1")
    point_aws_at(emulator, region)
    # There is no CloudWatch here: EMF metric blobs would only bury the request lines.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    deployment = run_program(project.program, project.name, stack, config, server.url)
    api = declared_api_of(deployment)
    mappings = stream_mappings(deployment)
    wiring = receipt_wiring(deployment)
    declared = [route.function for route in api.routes] + [m.function for m in mappings]
    declared += [spec for spec in (wiring.email, wiring.sms, wiring.sent_lines) if spec]
    specs = list({spec.name: spec for spec in declared}.values())
    _verify_email_senders(specs, region)
    export_shared_environment(specs)
    host = FunctionHost(specs, LocalClock(), FaultInjector(), emulator.url, region)
    receipts = ReceiptSimulator(wiring, host.invoke, host.clock)
    capture_deliveries(console.outbox, console.events, receipts.captured)
    return host, api, StreamPoller(mappings, host.invoke, region), receipts


def _verify_email_senders(specs: list[FunctionSpec], region: str) -> None:
    """Verify each configured sender in SES, as its owner does once before the first deploy.

    The program names the sender in the functions' environment but leaves verifying it to the
    address's owner (a click in an email), so the local stack does that step for them.
    """
    senders = {
        spec.environment[ENV_EMAIL_SENDER]
        for spec in specs
        if spec.environment.get(ENV_EMAIL_SENDER)
    }
    ses = boto3.session.Session(region_name=region).client("ses")
    for sender in sorted(senders):
        ses.verify_email_identity(EmailAddress=sender)


if __name__ == "__main__":
    sys.exit(main())
