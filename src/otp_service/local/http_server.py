"""The HTTP front door on loopback: `/_local/...` to the local routes, the rest to the gateway."""

from __future__ import annotations

import ipaddress
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .api_gateway import GatewayRequest, LocalGateway
from .control import PREFIX, LocalControl
from .proxy_integration import HttpResponse

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
"""API Gateway's payload limit; the handlers enforce the contract's smaller one themselves."""

_NOT_LOOPBACK = HttpResponse(
    403, [("Content-Type", "application/json")], b'{"message": "loopback host names only"}'
)

RequestLog = Callable[[str, str, int, float, str], None]


def names_loopback(host_header: str) -> bool:
    """Whether a `Host` header names a loopback address (`127.0.0.1:8080`, `[::1]:80`)."""
    host = host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header
    host = host.split("]", 1)[0].removeprefix("[") if host.startswith("[") else host
    return is_loopback(host.lower())


def is_loopback(host: str) -> bool:
    """Whether `host` names the loopback interface only (never a wildcard or a LAN address)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LocalServer(ThreadingHTTPServer):
    """One thread per request, like concurrent Lambda invocations."""

    daemon_threads = True
    request_queue_size = 128
    """socketserver's default backlog of 5 resets bursts of parallel callers."""

    gateway: LocalGateway
    control: LocalControl

    def __init__(self, host: str, port: int, log_request: RequestLog) -> None:
        """Bind (port 0 picks a free one); nothing is served before `serve_in_background`."""
        if not is_loopback(host):
            raise ValueError(f"otp-local serves on loopback only, not {host!r}")
        self.log_request = log_request
        super().__init__((host, port), _RequestHandler)

    @property
    def url(self) -> str:
        """The base URL the server answers on."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_in_background(self, gateway: LocalGateway, control: LocalControl) -> threading.Thread:
        """Serve the gateway and the local routes on a thread of its own until `shutdown()`."""
        self.gateway = gateway
        self.control = control
        thread = threading.Thread(target=self.serve_forever, name="otp-local-http", daemon=True)
        thread.start()
        return thread


class _RequestHandler(BaseHTTPRequestHandler):
    server: LocalServer
    server_version = "otp-local"
    protocol_version = "HTTP/1.1"
    """Keep-alive, as API Gateway offers: a client's next request skips a TCP handshake."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_OPTIONS(self) -> None:
        self._serve("OPTIONS")

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default access log; `LocalServer.log_request` writes one line instead."""

    def _serve(self, method: str) -> None:
        started = time.perf_counter()
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            request_id = str(uuid.uuid4())
            response = self.server.gateway.own_answer("REQUEST_TOO_LARGE", 413, "Request Too Long")
            self.close_connection = True
        else:
            body = self.rfile.read(length) if length > 0 else b""
            response, request_id = self._answer(method, url.path, url.query, body)
        self._write(method, response, request_id)
        elapsed_ms = (time.perf_counter() - started) * 1000
        self.server.log_request(method, url.path, response.status, elapsed_ms, request_id)

    def _answer(self, method: str, path: str, query: str, body: bytes) -> tuple[HttpResponse, str]:
        if path == PREFIX.rstrip("/"):
            return HttpResponse(308, [("Location", PREFIX)], b""), str(uuid.uuid4())
        if path.startswith(PREFIX):
            if not self._from_loopback():
                return _NOT_LOOPBACK, str(uuid.uuid4())
            return self.server.control.handle(method, path, body), str(uuid.uuid4())
        answer = self.server.gateway.handle(
            GatewayRequest(
                method=method,
                path=path,
                query=parse_qs(query, keep_blank_values=True),
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
            )
        )
        return answer.response, answer.request_id

    def _from_loopback(self) -> bool:
        """Whether a local route's request is addressed to, and sent by a page of, loopback.

        The outbox holds live codes: a site that rebinds its own name to 127.0.0.1 (DNS
        rebinding) would read it same-origin, hence the `Host` check; any other site's page can
        still send a cross-origin POST or DELETE (empty the outbox, inject faults), which
        browsers mark with its `Origin`.
        """
        origin = self.headers.get("Origin")
        return names_loopback(self.headers.get("Host", "")) and (
            origin is None or names_loopback(urlsplit(origin).netloc)
        )

    def _write(self, method: str, response: HttpResponse, request_id: str) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("x-amzn-RequestId", request_id)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(response.body)
