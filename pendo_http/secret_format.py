"""Refuse a key or secret that cannot be what Pendo issued: one pasted with a newline, a
space, a tab, a control character or a non-ASCII character.

Such a value never authenticates, and HTTP libraries quote it (repr, escapes) in their own
error messages, where a plain-text mask would miss it. The message names the setting and
what is wrong with it, never the value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SECRET_SETTINGS = ("integration_key", "x_pendo_integration_key", "track_event_secret")


def secret_problem(setting: str, value: Any) -> str | None:
    """Why `value` cannot be a Pendo secret, or None when it can."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return f"`{setting}` must be a string"
    if value != value.strip():
        return f"`{setting}` starts or ends with whitespace (a line break or space pasted with it?)"
    for char in value:
        if char.isspace():
            return f"`{setting}` contains whitespace"
        if not char.isprintable():
            return f"`{setting}` contains a control or non-printable character"
        if not char.isascii():
            return (
                f"`{setting}` contains a non-ASCII character (Pendo's keys are ASCII, and an "
                "HTTP header cannot carry it as is)"
            )
    return None


def secret_problems(
    config: Mapping[str, Any], settings: Iterable[str] = SECRET_SETTINGS
) -> list[str]:
    """One message per secret setting of `config` that is refused."""
    problems = (secret_problem(name, config.get(name)) for name in settings)
    return [
        f"{problem}: paste the key exactly as Pendo shows it." for problem in problems if problem
    ]
