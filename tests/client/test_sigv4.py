"""SigV4: the client's signature is what a verifier recomputing it with botocore accepts."""

from __future__ import annotations

import botocore.session
import pytest

from otp_service.client import Forbidden, OtpClient, SigV4Auth

from .servers import signature_problem, sigv4_server

REGION = "eu-west-1"
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def credentials_chain(monkeypatch: pytest.MonkeyPatch) -> botocore.session.Session:
    """A botocore session whose standard chain finds the example keys in the environment."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    return botocore.session.Session()


def test_a_request_signed_from_the_credential_chain_is_accepted(
    credentials_chain: botocore.session.Session,
) -> None:
    with sigv4_server({ACCESS_KEY: SECRET_KEY}, REGION) as (url, received):
        client = OtpClient(url, SigV4Auth(region=REGION, session=credentials_chain))
        assert client.cancel_token("alice").status == "canceled"
    method, path, headers, body = received.requests[0]
    assert (method, path, body) == ("POST", "/v1/cancel-token", b'{"user_id":"alice"}')
    assert f"Credential={ACCESS_KEY}/" in headers["Authorization"]


def test_a_signature_from_the_wrong_secret_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with sigv4_server({ACCESS_KEY: SECRET_KEY}, REGION) as (url, _):
        client = OtpClient(url, SigV4Auth(region=REGION, session=botocore.session.Session()))
        with pytest.raises(Forbidden, match="signature we calculated does not match"):
            client.cancel_token("alice")


def test_a_signature_for_another_region_is_refused(
    credentials_chain: botocore.session.Session,
) -> None:
    with sigv4_server({ACCESS_KEY: SECRET_KEY}, REGION) as (url, _):
        client = OtpClient(url, SigV4Auth(region="us-east-1", session=credentials_chain))
        with pytest.raises(Forbidden):
            client.cancel_token("alice")


def test_the_signature_covers_the_body(credentials_chain: botocore.session.Session) -> None:
    """A signed request whose body was changed afterwards no longer verifies."""
    auth = SigV4Auth(region=REGION, session=credentials_chain)
    url = "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/verify-token"
    body = b'{"user_id":"alice","code":"123456"}'
    headers = auth.headers("POST", url, {"Content-Type": "application/json"}, body)
    keys = {ACCESS_KEY: SECRET_KEY}
    assert signature_problem("POST", url, headers, body, keys, REGION) is None
    tampered = body.replace(b"123456", b"654321")
    assert signature_problem("POST", url, headers, tampered, keys, REGION) is not None


def test_the_region_is_read_from_an_execute_api_url(
    credentials_chain: botocore.session.Session,
) -> None:
    auth = SigV4Auth(session=credentials_chain)
    assert auth.region_for("https://a1b2c3.execute-api.ap-south-1.amazonaws.com/v1") == (
        "ap-south-1"
    )


def test_session_credentials_are_signed_with_their_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Role and SSO credentials carry a session token; API Gateway needs it signed."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
    auth = SigV4Auth(region=REGION, session=botocore.session.Session())
    url = "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/cancel-token"
    headers = auth.headers("POST", url, {}, b"{}")
    assert headers["X-Amz-Security-Token"] == "session-token"
    assert "x-amz-security-token" in headers["Authorization"]
