"""`otp-local-demo`: request a code, read it from the outbox, verify it, on a fresh otp-local."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from typing import Any

from .process import LocalStackProcess

USER_ID = "demo-user"
PHONE_NUMBER = "+14155550123"


def _step(name: str, status: int, body: Any) -> None:
    """One step of the flow as one JSON line on stdout."""
    print(json.dumps({"step": name, "status": status, "body": body}), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the flow end to end; exit 0 when the code verifies and otp-local stops cleanly."""
    parser = argparse.ArgumentParser(
        prog="otp-local-demo",
        description="Start otp-local on a free port, request a code by SMS, read it from the "
        "outbox and verify it; prints each step as one JSON line and exits 0 on success. "
        "Other arguments (e.g. -c codeLength=8, --stack dev) are passed to otp-local.",
    )
    _, otp_local_arguments = parser.parse_known_args(argv)
    print("otp-local-demo: starting otp-local ...", file=sys.stderr, flush=True)
    stack = LocalStackProcess(*otp_local_arguments)
    try:
        requested = stack.call(
            "POST", "/request-token", {"user_id": USER_ID, "destination": PHONE_NUMBER}
        )
        _step("POST /request-token", requested.status, requested.body)
        messages = stack.call("GET", "/_local/outbox").body["messages"]
        sms = next((m for m in messages if m["destination"] == PHONE_NUMBER), None)
        _step("GET /_local/outbox", 200, sms)
        match = re.search(r"\b[0-9]{6,10}\b", sms["body"]) if sms else None
        if requested.status != 202 or match is None:
            print("otp-local-demo: failed: no code was sent", file=sys.stderr)
            return 1
        verified = stack.call("POST", "/verify-token", {"user_id": USER_ID, "code": match[0]})
        _step("POST /verify-token", verified.status, verified.body)
        if verified.status != 200 or verified.body != {"status": "approved", "verified": True}:
            print("otp-local-demo: failed: the code did not verify", file=sys.stderr)
            return 1
    finally:
        exit_code = stack.stop()
    print(f"otp-local-demo: otp-local stopped with exit code {exit_code}", file=sys.stderr)
    return 0 if exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
