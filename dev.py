"""Set up and run the project from nothing but Python 3.11+.

    python3 dev.py up [otp-local options]     the local stack on http://127.0.0.1:8080
    python3 dev.py test [--fresh] [pytest options]   lint, types and the whole suite
    python3 dev.py demo | bench | lock
    python3 dev.py mutate                      mutation testing of the security rules (SECURITY.md)

`.venv` is reused while `requirements.lock` and `pyproject.toml` are unchanged (a stamp of their
hash) and rebuilt when either changes; `--fresh` (and CI) rebuild it from nothing.
`lock` regenerates `requirements.lock` (every package pinned, with hashes) with uv.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
LOCK = ROOT / "requirements.lock"
STAMP = VENV / ".lock-stamp"
UV = "uv==0.13.9"
"""The installer and lock tool, itself pinned; everything else comes from the lock."""
CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium: tests/e2e/test_outbox_page.py drives it (CI: a fresh Debian 12 as root)."""


def _run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True)  # noqa: S603


def _recipe_digest() -> str:
    recipe = hashlib.sha256(UV.encode())
    for path in (LOCK, ROOT / "pyproject.toml"):
        recipe.update(path.read_bytes())
    return recipe.hexdigest()


def virtualenv(fresh: bool = False) -> None:
    """Make `.venv` hold exactly the lock and the project, rebuilding only when they changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs on any python3 first
        sys.exit("Python 3.11 or newer is required")
    digest = _recipe_digest()
    if not fresh and STAMP.is_file() and STAMP.read_text() == digest:
        return
    shutil.rmtree(VENV, ignore_errors=True)
    uv = (_installed_uv(), "pip")
    _run(*uv, "sync", "--quiet", "--python", PYTHON, "--require-hashes", LOCK)
    _run(*uv, "install", "--quiet", "--python", PYTHON, "--no-deps", "-e", ".")
    STAMP.write_text(digest)


def _installed_uv() -> Path:
    """uv inside `.venv`, creating a bare `.venv` for it when there is none."""
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    uv = BIN / ("uv.exe" if os.name == "nt" else "uv")
    if not uv.exists():
        _run(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", UV)
    return uv


def browser() -> None:
    """Install Debian's Chromium (and its driver) when missing; the browser test fails without."""
    if CHROMIUM.exists() or not shutil.which("apt-get"):
        return
    if os.geteuid() != 0:
        print(f"dev.py: {CHROMIUM} is missing; as root: apt-get install chromium", file=sys.stderr)
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["update", "-qq"], ["install", "-y", "-qq", "chromium", "chromium-driver"]):
        subprocess.run(["apt-get", *command], cwd=ROOT, env=env, check=True)  # noqa: S603, S607


def lock() -> None:
    """Resolve pyproject's ranges (with every extra) into the hashed `requirements.lock`."""
    _run(
        _installed_uv(),
        "pip",
        "compile",
        "--quiet",
        "--universal",
        "--python-version",
        "3.11",
        "--generate-hashes",
        "--extra",
        "dev",
        "--no-emit-package",
        "otp-service",
        "--output-file",
        LOCK.name,
        "pyproject.toml",
    )


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    rest = sys.argv[2:]
    fresh = "--fresh" in rest or os.environ.get("CI") == "true"
    rest = [arg for arg in rest if arg != "--fresh"]
    if command == "test":
        virtualenv(fresh)
        browser()
        _run(BIN / "ruff", "check", ".")
        _run(BIN / "ruff", "format", "--check", ".")
        _run(BIN / "mypy", ".")
        _run(BIN / "mypy", "--config-file", "examples/consumer/mypy.ini", "examples/consumer")
        _run(PYTHON, "-m", "pytest", *rest)
    elif command == "up":
        virtualenv(fresh)
        os.execv(BIN / "otp-local", [str(BIN / "otp-local"), *rest])  # noqa: S606
    elif command == "demo":
        virtualenv(fresh)
        _run(BIN / "otp-local-demo", *rest)
    elif command == "bench":
        virtualenv(fresh)
        _run(PYTHON, "-m", "bench", *rest)
    elif command == "mutate":
        virtualenv(fresh)
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)  # no stale mutants from older code
        _run(BIN / "mutmut", "run")
        _run(BIN / "mutmut", "results")
    elif command == "lock":
        lock()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
