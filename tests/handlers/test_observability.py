"""EMF metrics: one count per outcome, dimensioned by channel, and switched off on request."""

from __future__ import annotations

import json

import pytest

from tests.support.moto_service import Service


def _metrics(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]


def test_a_sent_code_emits_one_code_sent_count_for_its_channel(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    service.request()
    [blob] = _metrics(capsys.readouterr().out)
    assert blob["CodeSent"] == [1.0]
    assert (blob["service"], blob["channel"]) == ("otp", "sms")


def test_metrics_are_not_written_when_powertools_metrics_are_disabled(
    service: Service, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    assert service.request().status == 202
    assert _metrics(capsys.readouterr().out) == []
