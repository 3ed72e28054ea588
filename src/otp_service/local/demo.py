"""`otp-local-demo`: request a code, read it from the outbox, verify it, on a fresh otp-local."""

from __future__ import annotations

import re
import sys

from .process import LocalStackProcess

USER_ID = "demo-user"
PHONE_NUMBER = "+14155550123"


def main() -> int:
    """Run the flow end to end; exit 0 when the code verifies and otp-local stops cleanly."""
    print("starting otp-local ...", flush=True)
    stack = LocalStackProcess(*sys.argv[1:])
    try:
        print(f"otp-local is up at {stack.url}")
        requested = stack.call(
            "POST", "/request-token", {"user_id": USER_ID, "destination": PHONE_NUMBER}
        )
        print(f"POST /request-token -> {requested.status} {requested.body}")
        messages = stack.call("GET", "/_local/outbox").body["messages"]
        sms = next(m for m in messages if m["destination"] == PHONE_NUMBER)
        print(f"GET /_local/outbox -> SMS to {sms['destination']}: {sms['body']}")
        match = re.search(r"\b[0-9]{6,10}\b", sms["body"])
        if requested.status != 202 or match is None:
            print("demo failed: no code was sent", file=sys.stderr)
            return 1
        verified = stack.call("POST", "/verify-token", {"user_id": USER_ID, "code": match[0]})
        print(f"POST /verify-token -> {verified.status} {verified.body}")
        if verified.status != 200 or verified.body != {"status": "approved", "verified": True}:
            print("demo failed: the code did not verify", file=sys.stderr)
            return 1
    finally:
        exit_code = stack.stop()
    print(f"otp-local stopped with exit code {exit_code}")
    return 0 if exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
