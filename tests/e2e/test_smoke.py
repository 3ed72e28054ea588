"""`otp-smoke` against `otp-local`: the same code that proves a real deploy, run in CI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from otp_service.client import Approval, InvalidCode, NoAuth, OtpClient, PendingVerification
from otp_service.smoke import SmokeFailed, SmokeTarget, main, run_smoke
from tests.support.local_stack import PROJECT_ROOT, Stack, started


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    # SnapStart on: the API integrates with each function's `live` alias, as prod does.
    yield from started("-c", "snapStart=true")


def test_smoke_passes_against_the_dev_stack_s_test_destination(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    assert main(["--stack", "dev", "--api-url", stack.process.url, "--no-auth"]) == 0
    out = capsys.readouterr().out
    for step in ("request-token", "verify-token", "replay", "cancel-token"):
        assert f"ok  {step}" in out
    assert "+1555******00" in out
    assert "+15555550100" not in out
    assert stack.outbox() == [] or all(m["destination"] != "+15555550100" for m in stack.outbox())


def test_smoke_fails_when_the_code_is_not_the_stack_s(stack: Stack) -> None:
    client = OtpClient(stack.process.url, NoAuth(), max_attempts=1)
    wrong = SmokeTarget("+15555550100", "000000")
    with pytest.raises(InvalidCode):
        run_smoke(client, wrong, "smoke-wrong-code", say=lambda _: None)


def test_smoke_reports_a_stack_without_test_destinations(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    assert main(["--stack", "prod", "--api-url", "http://127.0.0.1:9"]) == 1
    assert "no testDestinations" in capsys.readouterr().err


class _AcceptsEveryCode(OtpClient):
    """A broken service: every code verifies, however often."""

    def request_token(self, user_id: str, destination: str, **_: object) -> PendingVerification:
        return PendingVerification("sms", "+1555******00", 300, 30, "key")

    def verify_token(self, user_id: str, code: str) -> Approval:
        return Approval()


def test_a_replayed_code_that_is_accepted_fails_the_smoke_test() -> None:
    client = _AcceptsEveryCode("http://127.0.0.1:9", NoAuth())
    with pytest.raises(SmokeFailed, match="accepted a second time"):
        run_smoke(client, SmokeTarget("+15555550100", "123456"), "u", say=lambda _: None)
