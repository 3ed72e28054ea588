"""A misspelt key in the project's namespace stops the program, naming the key it resembles."""

from __future__ import annotations

import pulumi
import pytest

from otp_service.components.options import InvalidArgumentError
from tests.support.pulumi_mocks import Recording, RunProgram, pulumi_test


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("codelength", "codeLength"),
        ("codeLenght", "codeLength"),
        ("maxVerifyAttempt", "maxVerifyAttempts"),
        ("brandname", "brandName"),
        ("webotpdomain", "webOtpDomain"),
        ("androidAppHsh", "androidAppHash"),
    ],
)
def test_an_unknown_key_names_the_closest_known_one(
    run_stack: RunProgram, key: str, suggestion: str
) -> None:
    @pulumi_test
    def deploy() -> pulumi.Output[Recording]:
        return run_stack("dev", **{key: "8"}).settled()

    with pytest.raises(
        InvalidArgumentError, match=f"otp-service:{key}; did you mean '{suggestion}'"
    ):
        deploy()


def test_a_key_like_no_other_is_refused_without_a_guess(run_stack: RunProgram) -> None:
    @pulumi_test
    def deploy() -> pulumi.Output[Recording]:
        return run_stack("dev", zzz="1").settled()

    with pytest.raises(InvalidArgumentError, match=r"unknown configuration key otp-service:zzz$"):
        deploy()
