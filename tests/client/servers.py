"""Small HTTP servers the client tests talk to: a SigV4 checker and a scripted answerer."""

from __future__ import annotations

import datetime
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
MAX_SKEW = datetime.timedelta(minutes=5)


@dataclass
class Received:
    """What a test server saw: each request's method, path, headers and body."""

    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)


def signature_problem(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    secrets_by_key: dict[str, str],
    region: str,
    service: str = "execute-api",
) -> str | None:
    """Why API Gateway would refuse this request's SigV4 signature; None when it is valid.

    The signature is recomputed with botocore from the secret that belongs to the access key,
    over exactly the headers the request says it signed, at the time it says it was signed.
    """
    lower = {name.lower(): value for name, value in headers.items()}
    lower.setdefault("host", urlsplit(url).netloc)
    match = _AUTHORIZATION.match(lower.get("authorization", ""))
    if match is None:
        return "Missing Authentication Token"
    if match["key"] not in secrets_by_key:
        return "The security token included in the request is invalid."
    if (match["region"], match["service"]) != (region, service):
        return "Credential should be scoped to a valid region and service."
    amz_date = lower.get("x-amz-date", "")
    signed_at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    if abs(datetime.datetime.now(datetime.UTC) - signed_at) > MAX_SKEW:
        return "Signature expired"
    signed_names = match["signed"].split(";")
    if "host" not in signed_names or any(name not in lower for name in signed_names):
        return "Signed headers are missing"
    request = AWSRequest(
        method=method, url=url, data=body, headers={name: lower[name] for name in signed_names}
    )
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(match["key"], secrets_by_key[match["key"]]), service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if expected != match["signature"]:
        return "The request signature we calculated does not match the signature you provided."
    return None


@contextmanager
def sigv4_server(secrets_by_key: dict[str, str], region: str) -> Iterator[tuple[str, Received]]:
    """An API that answers 200 to a correctly signed request and API Gateway's 403 otherwise."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = dict(self.headers.items())
            received.requests.append((self.command, self.path, headers, body))
            url = f"http://{self.headers['Host']}{self.path}"
            problem = signature_problem(self.command, url, headers, body, secrets_by_key, region)
            if problem is None:
                self._json(200, {"status": "canceled"})
            else:
                self._json(403, {"error": {"code": "forbidden", "message": problem}})

        do_POST = do_GET = _answer

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with _serving(Handler) as url:
        yield url, received


@contextmanager
def scripted_server(
    answers: list[tuple[int, dict[str, str], Any]],
) -> Iterator[tuple[str, Received]]:
    """Answers each request with the next (status, headers, body) of `answers`."""
    received = Received()
    remaining = list(answers)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.requests.append((self.command, self.path, dict(self.headers.items()), body))
            status, headers, answer = remaining.pop(0)
            data = json.dumps(answer).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with _serving(Handler) as url:
        yield url, received


@contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
