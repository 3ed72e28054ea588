"""Read `OtpServiceArgs` from stack configuration (`pulumi config set codeLength 8`).

Each key's type comes from the field that validates it (`Policy`, `InfrastructureOptions`), so a
new option is declared once there (plus its line in `OtpServiceArgs` and `Pulumi.yaml`, which
tests compare with it).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from enum import StrEnum
from typing import Any, cast

import pulumi
from pydantic import BaseModel

from ..handlers.settings import Policy
from .options import InfrastructureOptions, InvalidArgumentError, OtpServiceArgs, closest_hint


def args_from_config(config: pulumi.Config) -> OtpServiceArgs:
    """Every key that is set, typed; unset keys keep the component's defaults.

    A key in the namespace that no option has (`codelength`, `codeLenght`) stops the program
    with the closest known key: a misspelt limit would otherwise keep its default silently.
    """
    values: dict[str, Any] = {"alarm_email": config.get("alarmEmail") or None}
    known = {"alarmEmail"}
    for model in (Policy, InfrastructureOptions):
        for name, key, kind in _typed_keys(model):
            values[name] = _read(config, key, kind)
            known.add(key)
    _refuse_unknown_keys(config.name, known)
    return cast(OtpServiceArgs, {key: value for key, value in values.items() if value is not None})


def _refuse_unknown_keys(namespace: str, known: set[str]) -> None:
    prefix = f"{namespace}:"
    set_keys = {*pulumi.runtime.config.CONFIG.get(), *pulumi.runtime.config.get_config_env()}
    for full_key in sorted(set_keys):
        key = full_key.removeprefix(prefix).removeprefix("config:")
        if full_key.startswith(prefix) and key not in known:
            raise InvalidArgumentError(unknown_key_message(namespace, key, known))


def unknown_key_message(namespace: str, key: str, known: set[str]) -> str:
    """The refusal of an unknown key, naming the known key it most resembles."""
    return f"unknown configuration key {namespace}:{key}{closest_hint(key, known)}"


def _typed_keys(model: type[BaseModel]) -> list[tuple[str, str, type]]:
    """(snake name, config key, value type without `None`) of each field of `model`."""
    keys = []
    for name, field in model.model_fields.items():
        kind: Any = field.annotation
        if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
            kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
        keys.append((name, field.alias or name, typing.get_origin(kind) or kind))
    return keys


def _read(config: pulumi.Config, key: str, kind: type) -> Any:
    if key == "allowedCountryCodes":
        return _country_codes(config)
    if isinstance(kind, type) and issubclass(kind, StrEnum):
        return _choice(config, key, kind)
    readers: dict[type, Callable[[str], Any]] = {
        bool: config.get_bool,
        int: config.get_int,
        float: config.get_float,
    }
    if kind in readers:
        return readers[kind](key)
    if kind is str:
        return config.get(key) or None
    return config.get_object(key)


def _country_codes(config: pulumi.Config) -> list[str] | None:
    codes = config.get_object("allowedCountryCodes")
    if codes is None:
        return None
    if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
        raise InvalidArgumentError(
            'allowedCountryCodes must be a list of calling codes as strings, e.g. ["1", "44"]'
        )
    return codes


def _choice(config: pulumi.Config, key: str, kind: type[StrEnum]) -> StrEnum | None:
    value = config.get(key)
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        allowed = " or ".join(repr(member.value) for member in kind)
        raise InvalidArgumentError(f"{key} must be {allowed}, got {value!r}") from None
