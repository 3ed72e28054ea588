"""Run `otp-local` as a child process and talk to it: what the demo and the e2e tests share."""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

READY = re.compile(r"serving on (http://[0-9.]+:[0-9]+)")
STARTUP_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Reply:
    """An HTTP answer with its JSON body decoded (None when the body is empty)."""

    status: int
    headers: Mapping[str, str]
    body: Any


class LocalStackProcess:
    """`otp-local --port 0 ...` in a child process; `url` is known once it printed it."""

    def __init__(self, *arguments: str, cwd: Path | None = None) -> None:
        self.output: list[str] = []
        self._printed = threading.Condition()
        self._ready = threading.Event()
        self.url = ""
        self._process = subprocess.Popen(  # noqa: S603 - our own console script
            [*_command(), "--port", "0", *arguments],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        assert self._process.stdout is not None
        self._reader = threading.Thread(
            target=self._read, args=(self._process.stdout,), daemon=True
        )
        self._reader.start()
        if not self._ready.wait(STARTUP_TIMEOUT_SECONDS) or not self.url:
            self.stop(signal.SIGKILL)
            raise RuntimeError("otp-local did not start:\n" + "\n".join(self.output))

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._printed:
                self.output.append(line.rstrip("\n"))
                self._printed.notify_all()
            match = READY.search(line)
            if match and not self.url:
                self.url = match.group(1)
                self._ready.set()
        self._ready.set()

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Reply:
        """Send one request; `body` is sent as JSON unless `raw` bytes are given."""
        payload = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        location = urlsplit(self.url)
        connection = http.client.HTTPConnection(location.netloc, timeout=30)
        try:
            sent = {"Content-Type": "application/json", **(headers or {})}
            connection.request(method, path, body=payload, headers=sent)
            answer = connection.getresponse()
            data = answer.read()
        finally:
            connection.close()
        return Reply(answer.status, dict(answer.getheaders()), json.loads(data) if data else None)

    def stop(self, signum: signal.Signals = signal.SIGINT, timeout: float = 20.0) -> int:
        """Send `signum` and return the exit code once the process has ended."""
        if self._process.poll() is None:
            self._process.send_signal(signum)
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
            raise
        finally:
            self._reader.join(timeout)
            assert self._process.stdout is not None
            self._process.stdout.close()

    def wait_for_line(self, pattern: str, timeout: float = 10.0) -> str:
        """The first output line matching the regex `pattern`, waiting for it to be printed."""
        wanted = re.compile(pattern)
        with self._printed:
            found = self._printed.wait_for(
                lambda: next((line for line in self.output if wanted.search(line)), None),
                timeout,
            )
        if found is None:
            raise AssertionError(f"otp-local never printed {pattern!r}")
        return found


def _command() -> Sequence[str]:
    """The installed console script next to this interpreter, else the module it runs."""
    script = Path(sys.executable).parent / "otp-local"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "otp_service.local.cli"]
