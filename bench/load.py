"""Item 4: the local stack under bounded loopback load, request+verify flows.

Starts `otp-local` on a free loopback port, then runs a fixed number of closed-loop clients for
a fixed time: each asks for a code for a user and number no one else uses, reads the code off
the console (the stream a developer reads; `GET /_local/outbox` returns every message ever
captured, so polling it would measure the outbox, not the service) and verifies it. Every
answer other than 202 then 200 is an error. The load generator shares the machine with the
server, so the figures are for this machine under this load, not a capacity claim.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import phonenumbers

from .environment import isolate_from_aws
from .stats import percentile

_READY = re.compile(r"serving on (http://[^\s]+)")
_MESSAGE = re.compile(r"\[outbox\] sms to (\+\d+) at ")
_CODE = re.compile(r"\b(\d{6,10})\b")
_AREA_CODES = ("415", "212", "312", "617", "646", "206", "303", "512")


@dataclass
class LoadResult:
    """Throughput, latency and errors of one load run."""

    clients: int
    seconds: float
    overrides: list[str]
    flows: int
    requests: int
    errors: int
    error_samples: list[str]
    rps: float
    flows_per_second: float
    p50_ms: float
    p99_ms: float
    by_route: dict[str, dict[str, float]]
    rps_first_window: float
    rps_last_window: float
    window_seconds: float
    server_exit_code: int | None
    meets_zero_errors: bool = field(init=False)

    def __post_init__(self) -> None:
        self.meets_zero_errors = self.errors == 0

    def as_json(self) -> dict[str, Any]:
        """The result as plain JSON values."""
        return asdict(self)


class _Codes:
    """Codes read off the server's console, by destination, for clients to wait on."""

    def __init__(self) -> None:
        self._codes: dict[str, str] = {}
        self._changed = threading.Condition()
        self.ready_url: str | None = None
        self.lines: list[str] = []

    def read(self, stream: TextIO) -> None:
        pending: str | None = None
        for line in stream:
            if self.ready_url is None:
                self.lines.append(line.rstrip())
                match = _READY.search(line)
                if match:
                    with self._changed:
                        self.ready_url = match.group(1)
                        self._changed.notify_all()
            # Handler logs share the stream and may run into a header, never into a body.
            message = _MESSAGE.search(line)
            if message:
                pending = message.group(1)
            elif pending is not None and line.startswith("    "):
                code = _CODE.search(line)
                if code:
                    with self._changed:
                        self._codes[pending] = code.group(1)
                        self._changed.notify_all()
                pending = None
        with self._changed:
            self._changed.notify_all()

    def wait_ready(self, timeout: float) -> str:
        with self._changed:
            self._changed.wait_for(lambda: self.ready_url is not None, timeout)
        if self.ready_url is None:
            raise RuntimeError("otp-local did not get ready:\n" + "\n".join(self.lines[-20:]))
        return self.ready_url

    def take(self, destination: str, timeout: float) -> str | None:
        with self._changed:
            self._changed.wait_for(lambda: destination in self._codes, timeout)
            return self._codes.pop(destination, None)


def _destinations() -> Iterator[str]:
    for area in _AREA_CODES:
        for line in range(10_000):
            number = f"+1{area}555{line:04d}"
            if phonenumbers.is_valid_number(phonenumbers.parse(number, None)):
                yield number


@dataclass
class _Client:
    """One closed-loop client's samples: (route, start offset, latency ms), and its errors."""

    samples: list[tuple[str, float, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    flows: int = 0


def _post(
    connection: http.client.HTTPConnection, path: str, body: dict[str, Any]
) -> tuple[int, bytes]:
    payload = json.dumps(body).encode()
    connection.request("POST", path, payload, {"Content-Type": "application/json"})
    answer = connection.getresponse()
    return answer.status, answer.read()


def _run_client(
    number: int,
    url: str,
    codes: _Codes,
    numbers: Iterator[str],
    numbers_lock: threading.Lock,
    t0: float,
    deadline: float,
    client: _Client,
) -> None:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    flow = 0
    try:
        while time.perf_counter() < deadline:
            with numbers_lock:
                destination = next(numbers)
            user = f"load-{number}-{flow}"
            flow += 1
            steps = (
                ("/request-token", {"user_id": user, "destination": destination}, 202),
                ("/verify-token", {"user_id": user, "code": ""}, 200),
            )
            for path, body, expected in steps:
                if path == "/verify-token":
                    code = codes.take(destination, timeout=10)
                    if code is None:
                        client.errors.append(f"no code reached {destination}")
                        break
                    body["code"] = code
                start = time.perf_counter()
                try:
                    status, answer = _post(connection, path, body)
                except (OSError, http.client.HTTPException) as error:
                    client.errors.append(f"{path}: {type(error).__name__}")
                    connection.close()
                    break
                client.samples.append((path, start - t0, (time.perf_counter() - start) * 1000))
                if status != expected:
                    client.errors.append(f"{path}: {status} {answer[:120]!r}")
                    break
            else:
                client.flows += 1
    finally:
        connection.close()


def run_load(
    repo: Path, clients: int, seconds: float, overrides: list[str], window: float = 5.0
) -> LoadResult:
    """Run `clients` closed-loop request+verify clients for `seconds` against a fresh otp-local."""
    script = Path(sys.executable).with_name("otp-local")
    command = [str(script), "--host", "127.0.0.1", "--port", "0", "--stack", "dev"]
    for override in overrides:
        command += ["-c", override]
    environment = isolate_from_aws(dict(os.environ))
    environment["PYTHONUNBUFFERED"] = "1"
    server = subprocess.Popen(
        command,
        cwd=repo,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    codes = _Codes()
    assert server.stdout is not None
    reader = threading.Thread(target=codes.read, args=(server.stdout,), daemon=True)
    reader.start()
    exit_code: int | None = None
    try:
        url = codes.wait_ready(timeout=120)
        numbers, numbers_lock = _destinations(), threading.Lock()
        results = [_Client() for _ in range(clients)]
        t0 = time.perf_counter()
        deadline = t0 + seconds
        threads = [
            threading.Thread(
                target=_run_client,
                args=(n, url, codes, numbers, numbers_lock, t0, deadline, results[n]),
            )
            for n in range(clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - t0
    finally:
        server.send_signal(signal.SIGINT)
        try:
            exit_code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    samples = [s for c in results for s in c.samples]
    errors = [e for c in results for e in c.errors]
    latencies = [ms for _, _, ms in samples]
    by_route = {}
    for route in ("/request-token", "/verify-token"):
        route_ms = [ms for path, _, ms in samples if path == route]
        if route_ms:
            by_route[route] = {
                "requests": len(route_ms),
                "p50_ms": round(percentile(route_ms, 0.5), 1),
                "p99_ms": round(percentile(route_ms, 0.99), 1),
            }
    first = sum(1 for _, at, _ in samples if at < window)
    last = sum(1 for _, at, _ in samples if at >= elapsed - window)
    return LoadResult(
        clients=clients,
        seconds=round(elapsed, 1),
        overrides=overrides,
        flows=sum(c.flows for c in results),
        requests=len(samples),
        errors=len(errors),
        error_samples=errors[:5],
        rps=round(len(samples) / elapsed, 1),
        flows_per_second=round(sum(c.flows for c in results) / elapsed, 1),
        p50_ms=round(percentile(latencies, 0.5), 1) if latencies else 0.0,
        p99_ms=round(percentile(latencies, 0.99), 1) if latencies else 0.0,
        by_route=by_route,
        rps_first_window=round(first / window, 1),
        rps_last_window=round(last / window, 1),
        window_seconds=window,
        server_exit_code=exit_code,
    )


if __name__ == "__main__":
    print(run_load(Path.cwd(), clients=16, seconds=10, overrides=[]).as_json())
