"""Physical names for the few resources AWS does not auto-name."""

from __future__ import annotations

import pulumi


def physical_name(name: str, role: str = "", max_length: int = 64) -> str:
    """`<project>-<stack>-<name>[-<role>]`, unique per stack and component, AWS-safe characters."""
    raw = "-".join(part for part in (pulumi.get_project(), pulumi.get_stack(), name, role) if part)
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in raw)[:max_length]
