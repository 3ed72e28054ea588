"""The command line: --api-key, -c validation, loopback only, SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.local_stack import PROJECT_ROOT, Stack, phone_number, started, user_id

API_KEY = "local-test-key"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    yield from started("--api-key", API_KEY, stop_signal=signal.SIGTERM)


def test_with_an_api_key_every_contract_route_needs_it(stack: Stack) -> None:
    for path in ("/request-token", "/verify-token", "/cancel-token"):
        for headers in ({}, {"x-api-key": "wrong"}):
            reply = stack.process.call("POST", path, {"user_id": "u"}, headers=headers)
            assert reply.status == 403
            assert reply.body["error"]["code"] == "forbidden"


def test_with_the_api_key_the_routes_answer(stack: Stack) -> None:
    user, phone = user_id(), phone_number()
    assert stack.request(user, phone).status == 202
    assert stack.cancel(user).status == 200
    reply = stack.process.call("POST", "/cancel-token", {"user_id": user}, {"X-Api-Key": API_KEY})
    assert reply.status == 200


def test_local_routes_need_no_api_key(stack: Stack) -> None:
    assert stack.process.call("GET", "/_local/health").status == 200


def run_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otp_service.local.cli", *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_a_non_loopback_host_is_refused(host: str) -> None:
    result = run_cli("--host", host, "--port", "0")
    assert result.returncode == 2
    assert "loopback" in result.stderr


def test_a_config_value_out_of_range_stops_startup_naming_the_key() -> None:
    result = run_cli("--port", "0", "-c", "codeLength=11")
    assert result.returncode == 1
    assert "codeLength" in result.stderr
    assert "serving on" not in result.stdout


def test_a_malformed_override_is_refused() -> None:
    result = run_cli("--port", "0", "-c", "codeLength")
    assert result.returncode == 2
    assert "KEY=VALUE" in result.stderr
