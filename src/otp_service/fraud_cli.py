"""otp-fraud: see and lift Fraud Guard's prefix blocks in a deployed stack's table.

otp-fraud --table TABLE [--region REGION] list
otp-fraud --table TABLE [--region REGION] lift "+44 7911"

TABLE is the stack's `table_name` output (`pulumi stack output table_name`). It runs with the
operator's own AWS credentials: attach the stack's `fraud_admin_policy_arn` (`GetItem` and
`UpdateItem` on the table's `fraud#blocks` and `fraud#prefix#*` items, `kms:Decrypt` through
DynamoDB on the service key); the functions' roles are not used.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import boto3

from .handlers.fraud import FraudPolicy
from .handlers.fraud_store import FraudLedger
from .handlers.lifecycle import rfc3339


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="otp-fraud", description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True, help="the stack's table_name output")
    parser.add_argument("--region", default=None, help="AWS region (default: the SDK's)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every prefix blocked now")
    lift = commands.add_parser("lift", help="end one prefix's block now (its history stays)")
    lift.add_argument("prefix", help='as listed, e.g. "+44 7911"')
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; exit 0 on success, 1 when there was no such block to lift."""
    arguments = _parser().parse_args(argv)
    dynamodb = boto3.session.Session(region_name=arguments.region).client("dynamodb")
    ledger = FraudLedger(dynamodb, arguments.table, FraudPolicy())
    now = int(time.time())
    if arguments.command == "list":
        blocks = ledger.blocks(now)
        print("PREFIX\tOFFENCES\tBLOCKED_UNTIL")
        for prefix, history in blocks:
            print(f"{prefix}\t{history.count}\t{rfc3339(history.blocked_until)}")
        return 0
    if ledger.lift(arguments.prefix, now):
        print(f"lifted {arguments.prefix}")
        return 0
    print(f"{arguments.prefix} is not blocked", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
