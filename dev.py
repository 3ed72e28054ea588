"""Set up and run the project from nothing but Python 3.11+: `python3 dev.py up|test|demo|bench`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
LOCK = ROOT / "requirements.lock"


def _run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True)  # noqa: S603


def fresh_virtualenv() -> None:
    """Create .venv from scratch and install the project with the pinned lock file."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs on any python3 first
        sys.exit("Python 3.11 or newer is required")
    shutil.rmtree(VENV, ignore_errors=True)
    venv.EnvBuilder(with_pip=True).create(VENV)
    pip = (BIN / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check")
    _run(*pip, "--upgrade", "pip==25.3")
    _run(*pip, "-c", LOCK, "-e", ".[dev]")


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    rest = sys.argv[2:]
    if command == "test":
        fresh_virtualenv()
        _run(BIN / "ruff", "check", ".")
        _run(BIN / "ruff", "format", "--check", ".")
        _run(BIN / "mypy", ".")
        _run(BIN / "python", "-m", "pytest", *rest)
    elif command == "up":
        fresh_virtualenv()
        os.execv(BIN / "otp-local", [str(BIN / "otp-local"), *rest])  # noqa: S606
    elif command == "demo":
        fresh_virtualenv()
        _run(BIN / "otp-local-demo", *rest)
    elif command == "bench":
        fresh_virtualenv()
        _run(BIN / "python", "-m", "bench", *rest)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
