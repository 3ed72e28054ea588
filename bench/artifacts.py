"""Item 5: the Lambda artifacts' sizes, built by the component's own packaging code."""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from otp_service.components.functions import ROUTES, Route
from otp_service.components.packaging import (
    build_code_archive,
    build_dependency_layer,
    default_build_directory,
)

CODE_ARCHIVE_TARGET_BYTES = 64 * 1024
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024
"""Lambda's quota on a function's unzipped code plus all its layers."""


@dataclass
class Artifact:
    """One zip the stack uploads."""

    name: str
    used_by: list[str]
    zipped_bytes: int
    unzipped_bytes: int
    files: int
    target_bytes: int | None
    meets_target: bool | None

    def as_json(self) -> dict[str, Any]:
        """The artifact as plain JSON values."""
        return asdict(self)


def _sizes(archive: Path) -> tuple[int, int, int]:
    with zipfile.ZipFile(archive) as opened:
        infos = opened.infolist()
    return archive.stat().st_size, sum(i.file_size for i in infos), len(infos)


def measure_artifacts(layer_build_directory: Path | None = None) -> list[Artifact]:
    """Build the code archive (in a scratch directory) and the dependency layer; size both.

    The layer is built where the stack builds it (`build/otp-service`), so an archive already
    there is reused instead of fetching its wheels from PyPI again.
    """
    handlers = [f"{route.path} ({route.handler})" for route in ROUTES]
    with tempfile.TemporaryDirectory() as scratch:
        zipped, unzipped, files = _sizes(build_code_archive(Path(scratch)))
    code = Artifact(
        name="function code (handlers/)",
        used_by=handlers,
        zipped_bytes=zipped,
        unzipped_bytes=unzipped,
        files=files,
        target_bytes=CODE_ARCHIVE_TARGET_BYTES,
        meets_target=zipped < CODE_ARCHIVE_TARGET_BYTES,
    )
    layer_path = build_dependency_layer(layer_build_directory or default_build_directory())
    zipped, unzipped, files = _sizes(layer_path)
    layer = Artifact(
        name="dependency layer (phonenumberslite, email-validator, dnspython, idna)",
        used_by=[route.path for route in ROUTES],
        zipped_bytes=zipped,
        unzipped_bytes=unzipped,
        files=files,
        target_bytes=None,
        meets_target=None,
    )
    return [code, layer]


def per_function(artifacts: list[Artifact]) -> list[dict[str, Any]]:
    """What each function deploys: the shared code archive plus the shared layer."""
    code, layer = artifacts
    return [
        {
            "function": route.path,
            "handler": route.handler,
            "code_zipped_bytes": code.zipped_bytes,
            "layer_zipped_bytes": layer.zipped_bytes,
            "unzipped_bytes_without_powertools": code.unzipped_bytes + layer.unzipped_bytes,
        }
        for route in ROUTES
    ]


__all__ = ["Artifact", "Route", "measure_artifacts", "per_function"]
