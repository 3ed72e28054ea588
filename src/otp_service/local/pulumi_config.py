"""The stack's configuration as the Pulumi CLI hands it to the program, read without the CLI."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """The project or stack configuration cannot be read, or an override is malformed."""


@dataclass(frozen=True)
class Project:
    """A Pulumi project on disk: its directory, name and `Pulumi.yaml` config schema."""

    directory: Path
    name: str
    schema: Mapping[str, Any]

    @property
    def program(self) -> Path:
        """The stack program Pulumi runs for a Python project."""
        return self.directory / "__main__.py"


def find_project(start: Path) -> Project:
    """The project in `start` or the nearest parent holding a `Pulumi.yaml`, as the CLI finds it."""
    for directory in (start, *start.parents):
        manifest = directory / "Pulumi.yaml"
        if manifest.is_file():
            loaded = yaml.safe_load(manifest.read_text()) or {}
            return Project(directory, str(loaded["name"]), loaded.get("config") or {})
    raise ConfigError(f"no Pulumi.yaml in {start} or any parent; run otp-local in the project")


def parse_override(text: str) -> tuple[str, str]:
    """`KEY=VALUE` from `-c`; VALUE stays a string, as `pulumi config set KEY VALUE` stores it."""
    key, separator, value = text.partition("=")
    if not separator or not key.strip():
        raise ConfigError(f"-c expects KEY=VALUE, got {text!r}")
    return key.strip(), value


def stack_config(
    project: Project, stack: str, overrides: Sequence[tuple[str, Any]] = ()
) -> dict[str, str]:
    """Project defaults, then `Pulumi.<stack>.yaml`, then each override, as namespaced strings."""
    values: dict[str, Any] = {
        f"{project.name}:{key}": spec["default"]
        for key, spec in project.schema.items()
        if isinstance(spec, dict) and "default" in spec
    }
    stack_file = project.directory / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        raise ConfigError(f"stack {stack!r} has no {stack_file.name} in {project.directory}")
    for key, value in ((yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}).items():
        if isinstance(value, dict) and "secure" in value:
            raise ConfigError(
                f"{key} is a secret; otp-local cannot decrypt it, override it with -c"
            )
        values[namespaced(project, key)] = value
    for key, value in overrides:
        values[namespaced(project, key)] = value
    return {key: config_string(value) for key, value in values.items()}


def namespaced(project: Project, key: str) -> str:
    """`codeLength` -> `otp-service:codeLength`; keys with a namespace (`aws:region`) stay."""
    return key if ":" in key else f"{project.name}:{key}"


def config_string(value: Any) -> str:
    """A config value as the CLI passes it: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value)
