"""otp-local and otp-local-demo explain themselves: help, config typos, a taken port, JSON."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from otp_service.local.cli import PLACEHOLDER_EMAIL_SENDER
from tests.support.local_stack import PROJECT_ROOT, Stack, phone_number, started, user_id


def _run(module: str, *arguments: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_help_shows_the_defaults_and_the_local_routes() -> None:
    result = _run("otp_service.local.cli", "--help")
    assert result.returncode == 0
    for expected in ("(default: 127.0.0.1)", "(default: 8080)", "(default: dev)"):
        assert expected in result.stdout
    routes = ("/_local/ ", "/_local/outbox", "/_local/events", "/_local/health", "/_local/faults")
    for route in (*routes, "/_local/clock"):
        assert route in result.stdout


def test_a_misspelt_config_key_stops_otp_local_naming_the_closest_key() -> None:
    result = _run("otp_service.local.cli", "--port", "0", "-c", "codelenght=8")
    assert result.returncode == 1
    assert "otp-service:codelenght; did you mean 'codeLength'?" in result.stderr
    assert "serving on" not in result.stdout


def test_a_taken_port_is_named() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run("otp_service.local.cli", "--port", str(port))
    assert result.returncode == 2
    assert f"port {port}: Address already in use" in result.stderr


def test_the_demo_has_help() -> None:
    result = _run("otp_service.local.demo", "--help")
    assert result.returncode == 0
    assert "otp-local-demo" in result.stdout


def test_the_demo_prints_each_step_as_json() -> None:
    result = _run("otp_service.local.demo", timeout=120)
    assert result.returncode == 0, result.stderr
    steps = [json.loads(line) for line in result.stdout.splitlines()]
    assert [step["step"] for step in steps] == [
        "POST /request-token",
        "GET /_local/outbox",
        "POST /verify-token",
    ]
    assert steps[-1]["body"] == {"status": "approved", "verified": True}


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    yield from started("--stack", "dev")


def test_email_works_without_flags_from_a_placeholder_sender(stack: Stack) -> None:
    address = f"{user_id('mail')}@example.com"
    reply = stack.request(user_id(), address, channel="email")
    assert reply.status == 202, reply.body
    (message,) = stack.messages_to(address)
    assert message["sender"] == PLACEHOLDER_EMAIL_SENDER
    assert message["subject"] == "OTP Dev verification code"
    assert stack.request(user_id(), phone_number()).status == 202
