"""Deterministic zip archives for the functions' code and for the dependency layer."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from .. import handlers

LAMBDA_RUNTIME = "python3.12"
"""The functions' runtime; the dependency layer is built for it."""

LAMBDA_ARCHITECTURE = "arm64"
"""The functions' instruction set (Graviton)."""

LAYER_REQUIREMENTS = (
    "annotated-types==0.8.0",
    "aws-lambda-powertools==3.37.0",
    "dnspython==2.9.2",
    "email-validator==2.4.0",
    "idna==3.20",
    "phonenumberslite==9.0.42",
    "pydantic==2.14.4",
    "pydantic-core==2.50.5",
    "typing-extensions==4.16.0",
    "typing-inspection==0.4.5",
)
"""Every library the handlers import at run time except the SDK, at requirements.lock's pins.

The same versions the tests run against ship to Lambda, so there is no public Powertools layer
with its own Powertools and pydantic. tests/infra/test_packaging.py checks these pins against the
lock and this list against the closure of the handlers' imports. The full closure is installed
with `--no-deps`, so the layer never drifts with a resolver. boto3 and botocore come from the
Lambda runtime (the handlers call long-stable APIs only).
"""

HANDLER_RUNTIME_DISTRIBUTIONS = (
    "aws-lambda-powertools",
    "email-validator",
    "phonenumberslite",
    "pydantic",
)
"""The distributions the handlers import directly, besides the SDK the runtime provides."""

_PIP_PLATFORM = ("--platform", "manylinux2014_aarch64", "--implementation", "cp")
_PIP_PYTHON_VERSION = ("--python-version", LAMBDA_RUNTIME.removeprefix("python"))
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_NOT_CODE = frozenset({"__pycache__", "tests"})
_NOT_LIBRARY = frozenset({"__pycache__", "bin"})  # bin/ holds console scripts with a local shebang


def default_build_directory() -> Path:
    """Where archives are written: `build/otp-service` under the Pulumi program's directory."""
    return Path.cwd() / "build" / "otp-service"


def handlers_source_directory() -> Path:
    """The installed `otp_service.handlers` package, wherever it lives (editable or not)."""
    return Path(handlers.__file__).resolve().parent


def build_code_archive(build_directory: Path, source: Path | None = None) -> Path:
    """Zip the handler modules under `handlers/` (sources only, no tests) and return its path."""
    source = source or handlers_source_directory()
    entries = {
        f"handlers/{path.relative_to(source).as_posix()}": path
        for path in _files_under(source, skipped=_NOT_CODE)
        if path.suffix == ".py" and not _is_test_module(path)
    }
    return _write_archive(entries, build_directory, "handlers")


def build_dependency_layer(
    build_directory: Path, requirements: Sequence[str] = LAYER_REQUIREMENTS
) -> Path:
    """Pip-install `requirements` for the Lambda platform under `python/` and zip them.

    The archive is named by a digest of the requirements and the target platform, so an archive
    that is already there is reused without calling pip.
    """
    recipe = "\n".join([*requirements, *_PIP_PLATFORM, *_PIP_PYTHON_VERSION])
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:16]
    cached = build_directory / f"dependencies-{digest}.zip"
    if cached.is_file():
        return cached
    build_directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=build_directory) as staging:
        target = Path(staging) / "python"
        _pip_install(requirements, target)
        entries = {
            f"python/{path.relative_to(target).as_posix()}": path
            for path in _files_under(target, skipped=_NOT_LIBRARY)
            if not _is_install_record(path) and path.suffix != ".pyc"
        }
        written = _write_archive(entries, build_directory, "dependencies")
    os.replace(written, cached)
    return cached


def _pip_install(requirements: Sequence[str], target: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--no-compile",
        "--only-binary=:all:",
        *_PIP_PLATFORM,
        *_PIP_PYTHON_VERSION,
        "--target",
        str(target),
        *requirements,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise RuntimeError(f"building the dependency layer failed:\n{result.stderr.strip()}")


def _files_under(root: Path, skipped: frozenset[str]) -> Iterable[Path]:
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if d not in skipped)
        for file in sorted(files):
            yield Path(directory) / file


def _is_test_module(path: Path) -> bool:
    return (
        path.name.startswith("test_")
        or path.name.endswith("_test.py")
        or (path.name == "conftest.py")
    )


def _is_install_record(path: Path) -> bool:
    """Pip's per-install files: RECORD hashes a script with this machine's interpreter path."""
    return path.parent.name.endswith(".dist-info") and path.name in {
        "RECORD",
        "INSTALLER",
        "REQUESTED",
        "direct_url.json",
    }


def _write_archive(entries: dict[str, Path], build_directory: Path, stem: str) -> Path:
    """Write a zip whose bytes depend only on the entries' names and contents."""
    build_directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=build_directory, suffix=".zip", delete=False) as file:
        staging = Path(file.name)
    with zipfile.ZipFile(staging, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[name].read_bytes())
    digest = hashlib.sha256(staging.read_bytes()).hexdigest()[:16]
    final = build_directory / f"{stem}-{digest}.zip"
    os.replace(staging, final)
    return final


def archive_names(archive: Path) -> list[str]:
    """The member names of a zip archive, in order."""
    with zipfile.ZipFile(archive) as opened:
        return opened.namelist()
