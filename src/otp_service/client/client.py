"""`OtpClient`: the contract's calls over HTTPS, with retries only where they are safe."""

from __future__ import annotations

import http.client
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import botocore.session

from .auth import ApiKeyAuth, Auth, SigV4Auth
from .errors import OtpError, RetryLater, ServiceUnavailable, Throttled, error_from_answer
from .results import Approval, Cancellation, PendingVerification, Verification

USER_AGENT = "otp-service-client/1"

_CONNECTIONS: dict[str, type[http.client.HTTPConnection]] = {
    "http": http.client.HTTPConnection,
    "https": http.client.HTTPSConnection,
}


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: dict[str, str]
    body: Any


class _NotSent(Exception):
    """The connection could not be made: the service never saw the request."""


class _MaybeSent(Exception):
    """The connection broke after the request may have reached the service."""


@dataclass(frozen=True)
class _RetryPolicy:
    """Which failures a call may repeat: what the contract makes harmless for that route."""

    after_maybe_sent: bool
    """The call is idempotent (a key, a read, or a cancel), so a lost answer can be asked again."""
    on_unavailable: bool
    """A 503 may be repeated: the call does not count attempts."""


_IDEMPOTENT = _RetryPolicy(after_maybe_sent=True, on_unavailable=True)
# A verify counts an attempt before it answers, so only a request that never reached the
# function (no connection, or API Gateway's throttle) is sent again.
_COUNTED = _RetryPolicy(after_maybe_sent=False, on_unavailable=False)


class OtpClient:
    """Calls one OTP service: `OtpClient("https://abc.execute-api.eu-west-1.amazonaws.com/v1")`.

    `auth` defaults to SigV4 with the standard AWS credential chain; use `ApiKeyAuth(key)` for
    a stack in API-key mode and `NoAuth()` for `otp-local` without `--api-key`. Errors are
    raised as the `OtpError` subclass named after the contract's error code.
    """

    def __init__(
        self,
        base_url: str,
        auth: Auth | None = None,
        *,
        timeout: float = 10.0,
        max_attempts: int = 3,
        max_retry_wait: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        location = urlsplit(base_url)
        if location.scheme not in ("http", "https") or not location.hostname:
            raise ValueError("base_url must be an http(s) URL such as the stack's api_url")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.base_url = base_url.rstrip("/")
        self._auth = auth if auth is not None else SigV4Auth()
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._max_retry_wait = max_retry_wait
        self._sleep = sleep

    @classmethod
    def from_stack_outputs(
        cls,
        outputs: Mapping[str, Any],
        *,
        api_key: str | None = None,
        session: botocore.session.Session | None = None,
        **options: Any,
    ) -> OtpClient:
        """A client for a deployed stack, from `pulumi stack output --json` (or the outputs of
        an `OtpService`): SigV4, or in API-key mode the key, read with `apigateway:GET` unless
        given."""
        url = str(outputs["api_url"])
        auth: Auth
        if outputs.get("api_key_id"):
            session = session or botocore.session.get_session()
            key = api_key or _read_api_key(session, str(outputs["api_key_id"]), url)
            auth = ApiKeyAuth(key)
        else:
            auth = SigV4Auth(session=session)
        return cls(url, auth, **options)

    def request_token(
        self,
        user_id: str,
        destination: str,
        *,
        channel: str = "sms",
        locale: str | None = None,
        idempotency_key: str | None = None,
    ) -> PendingVerification:
        """Send a code; repeat with the same `idempotency_key` to send nothing more."""
        key = idempotency_key if idempotency_key is not None else new_idempotency_key()
        body: dict[str, Any] = {"user_id": user_id, "channel": channel, "destination": destination}
        if locale is not None:
            body["locale"] = locale
        answer = self._call("POST", "/request-token", body, {"Idempotency-Key": key}, _IDEMPOTENT)
        replayed = answer.headers.get("idempotent-replayed", "").lower() == "true"
        return PendingVerification.from_answer(answer.body, key, replayed)

    def verify_token(self, user_id: str, code: str) -> Approval:
        """Check a code; a wrong one raises `InvalidCode`, a locked-out user `TooManyAttempts`."""
        self._call("POST", "/verify-token", {"user_id": user_id, "code": code}, {}, _COUNTED)
        return Approval()

    def cancel_token(self, user_id: str) -> Cancellation:
        """Burn the user's pending code, if there is one."""
        self._call("POST", "/cancel-token", {"user_id": user_id}, {}, _IDEMPOTENT)
        return Cancellation()

    def get_verification(self, verification_id: str) -> Verification:
        """One verification's state; an unknown id raises `NotFound`."""
        path = "/verifications/" + quote(verification_id, safe="")
        return Verification.from_answer(self._call("GET", path, None, {}, _IDEMPOTENT).body)

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        headers: Mapping[str, str],
        policy: _RetryPolicy,
    ) -> _Answer:
        payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        for attempt in range(1, self._max_attempts + 1):
            last = attempt == self._max_attempts
            try:
                answer = self._send(method, path, payload, headers)
            except _NotSent as error:
                if last:
                    raise OtpError(0, f"cannot connect to {self.base_url}") from error.__cause__
                self._sleep(_backoff(attempt))
                continue
            except _MaybeSent as error:
                if last or not policy.after_maybe_sent:
                    raise OtpError(0, "the connection broke before an answer") from error.__cause__
                self._sleep(_backoff(attempt))
                continue
            if answer.status < 400:
                return answer
            failure = error_from_answer(
                answer.status, answer.body, answer.headers, answer.headers.get("x-amzn-requestid")
            )
            if last or not _may_repeat(failure, policy):
                raise failure
            assert isinstance(failure, RetryLater)
            wait = failure.retry_after if failure.retry_after is not None else _backoff(attempt)
            self._sleep(min(float(wait), self._max_retry_wait))
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, method: str, path: str, payload: bytes, headers: Mapping[str, str]) -> _Answer:
        url = self.base_url + path
        location = urlsplit(url)
        sent = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            **headers,
        }
        signed = self._auth.headers(method, url, sent, payload)
        connection = _CONNECTIONS[location.scheme](location.netloc, timeout=self._timeout)
        try:
            try:
                connection.connect()
            except OSError as error:
                raise _NotSent from error
            target = location.path + (f"?{location.query}" if location.query else "")
            try:
                connection.request(method, target, body=payload or None, headers=signed)
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as error:
                raise _MaybeSent from error
        finally:
            connection.close()
        answer_headers = {name.lower(): value for name, value in response.getheaders()}
        try:
            decoded = json.loads(data) if data else None
        except ValueError:
            decoded = None
        if response.status < 400 and not isinstance(decoded, dict):
            raise OtpError(response.status, "the answer is not a JSON object")
        return _Answer(response.status, answer_headers, decoded)


def new_idempotency_key() -> str:
    """A fresh `Idempotency-Key`: 32 URL-safe characters from the OS's CSPRNG."""
    return secrets.token_urlsafe(24)


def _may_repeat(failure: OtpError, policy: _RetryPolicy) -> bool:
    if isinstance(failure, Throttled):
        return True  # API Gateway refused it before any function ran
    return isinstance(failure, ServiceUnavailable) and policy.on_unavailable


def _backoff(attempt: int) -> float:
    return min(0.2 * 2.0 ** (attempt - 1), 2.0)


def _read_api_key(session: botocore.session.Session, key_id: str, api_url: str) -> str:
    region = SigV4Auth(session=session).region_for(api_url)
    apigateway = session.create_client("apigateway", region_name=region)
    return str(apigateway.get_api_key(apiKey=key_id, includeValue=True)["value"])
