"""SnapStart: a restored snapshot never reuses MAC subkeys derived before the snapshot."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
from moto import mock_aws

from otp_service.handlers.keys import MacKeyring, forget_derived_subkeys


def _kms_calls(kms: object) -> list[str]:
    calls: list[str] = []
    kms.meta.events.register(  # type: ignore[attr-defined]
        "before-call.kms.GenerateMac", lambda **_: calls.append("GenerateMac")
    )
    return calls


@mock_aws
def test_after_a_restore_every_subkey_is_derived_afresh_from_kms() -> None:
    kms = boto3.client("kms", region_name="us-east-1")
    key_id = kms.create_key(KeyUsage="GENERATE_VERIFY_MAC", KeySpec="HMAC_256")["KeyMetadata"][
        "Arn"
    ]
    calls = _kms_calls(kms)
    keyring = MacKeyring(kms, key_id)
    before_snapshot = keyring.current()
    assert keyring.current() is before_snapshot  # cached while the container lives
    assert calls == ["GenerateMac"]
    forget_derived_subkeys()  # what the runtime calls after restoring the snapshot
    after_restore = keyring.current()
    assert after_restore is not before_snapshot
    assert calls == ["GenerateMac", "GenerateMac"]


@mock_aws
def test_initialization_derives_nothing_for_the_snapshot_to_capture() -> None:
    kms = boto3.client("kms", region_name="us-east-1")
    calls = _kms_calls(kms)
    MacKeyring(kms, "arn:aws:kms:us-east-1:123456789012:key/unused")
    assert calls == []


def test_the_forgetting_hook_is_registered_with_the_snapstart_runtime(tmp_path: Path) -> None:
    """Where Lambda provides `snapshot_restore_py`, importing the handlers registers the hook."""
    (tmp_path / "snapshot_restore_py.py").write_text(
        textwrap.dedent(
            """
            after_restore = []

            def register_after_restore(function, *args, **kwargs):
                after_restore.append(function)
            """
        )
    )
    program = (
        "import snapshot_restore_py, otp_service.handlers.keys as keys\n"
        "assert snapshot_restore_py.after_restore == [keys.forget_derived_subkeys]\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        env={"PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
