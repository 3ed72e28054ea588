"""Races from several OS processes against one otp-local over HTTP: single use, cooldown, limits.

Each worker is its own process with its own connection; a barrier lines them up so their
requests reach the threaded gateway together.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import re
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from otp_service.local.process import LocalStackProcess

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKERS = 8


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStackProcess]:
    process = LocalStackProcess("--stack", "dev", cwd=PROJECT_ROOT)
    try:
        yield process
    finally:
        assert process.stop(timeout=60) == 0  # a loaded machine stops slower (as local_stack)


def _post(url: str, path: str, body: dict[str, Any], barrier: Any) -> int:
    """One request from a worker process, sent once every worker is ready."""
    connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=30)
    try:
        connection.connect()
        barrier.wait(30)
        payload = json.dumps(body).encode()
        connection.request("POST", path, payload, {"Content-Type": "application/json"})
        return connection.getresponse().status
    finally:
        connection.close()


def _race(url: str, path: str, bodies: list[dict[str, Any]]) -> list[int]:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(len(bodies))
        with ProcessPoolExecutor(len(bodies), mp_context=context) as pool:
            futures = [pool.submit(_post, url, path, body, barrier) for body in bodies]
            return [future.result() for future in futures]


def _code_for(stack: LocalStackProcess, destination: str) -> str:
    messages = stack.call("GET", "/_local/outbox").body["messages"]
    bodies = [m["body"] for m in messages if m["destination"] == destination]
    assert bodies, f"nothing was sent to {destination}"
    match = re.search(r"\b[0-9]{6,10}\b", bodies[-1])
    assert match
    return match[0]


def _sent_to(stack: LocalStackProcess, destination: str) -> int:
    messages = stack.call("GET", "/_local/outbox").body["messages"]
    return sum(m["destination"] == destination for m in messages)


def test_one_code_verified_from_eight_processes_at_once_is_approved_once(
    local_stack: LocalStackProcess,
) -> None:
    destination = "+14155550901"
    body = {"user_id": "proc-spend", "destination": destination}
    assert local_stack.call("POST", "/request-token", body).status == 202
    code = _code_for(local_stack, destination)
    statuses = _race(
        local_stack.url, "/verify-token", [{"user_id": "proc-spend", "code": code}] * WORKERS
    )
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 400, 429}
    replay = local_stack.call("POST", "/verify-token", {"user_id": "proc-spend", "code": code})
    assert replay.status in {400, 429}


def test_eight_processes_requesting_for_one_user_send_once(
    local_stack: LocalStackProcess,
) -> None:
    bodies = [
        {"user_id": "proc-cooldown", "destination": f"+14155550{910 + n}"} for n in range(WORKERS)
    ]
    statuses = _race(local_stack.url, "/request-token", bodies)
    assert sorted(statuses) == [202] + [429] * (WORKERS - 1)
    assert sum(_sent_to(local_stack, str(b["destination"])) for b in bodies) == 1


def test_eight_processes_pumping_one_number_get_five_messages(
    local_stack: LocalStackProcess,
) -> None:
    destination = "+14155550930"
    bodies = [{"user_id": f"proc-pump-{n}", "destination": destination} for n in range(WORKERS)]
    statuses = _race(local_stack.url, "/request-token", bodies)
    assert sorted(statuses) == [202] * 5 + [429] * (WORKERS - 5)
    assert _sent_to(local_stack, destination) == 5


def test_eight_processes_guessing_one_code_lock_it_out_and_burn_it(
    local_stack: LocalStackProcess,
) -> None:
    destination = "+14155550940"
    body = {"user_id": "proc-guess", "destination": destination}
    assert local_stack.call("POST", "/request-token", body).status == 202
    code = _code_for(local_stack, destination)
    guesses = [
        {"user_id": "proc-guess", "code": f"{(int(code) + k) % 10**6:06d}"}
        for k in range(1, WORKERS + 1)
    ]
    statuses = _race(local_stack.url, "/verify-token", guesses)
    assert statuses.count(400) <= 4 and statuses.count(429) >= WORKERS - 4, statuses
    after = local_stack.call("POST", "/verify-token", {"user_id": "proc-guess", "code": code})
    assert after.status == 429, "the code was burned at the fifth guess"
