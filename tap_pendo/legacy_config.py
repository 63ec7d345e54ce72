"""Configs written for the singer-io tap-pendo, read as that tap read them.

That tap took every value as a string (`"include_anonymous_visitors": "true"`,
`"lookback_window": "1"`, `"app_ids": "123, 456"`) and sent keys ending in `.eu` to the EU
host. So that such configs move over unchanged, string values are converted to the type
this tap's config schema declares before the config is validated. Only exact forms are
converted (`"true"`/`"false"`, whole or decimal numbers, comma-separated lists); anything
else is left for validation to reject with its usual message.
"""

from __future__ import annotations

import re
import typing as t

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_BOOLEANS = {"true": True, "false": False}


def _declared_types(prop: dict[str, t.Any]) -> set[str]:
    declared = prop.get("type", [])
    types = {declared} if isinstance(declared, str) else set(declared)
    for option in prop.get("anyOf", []) + prop.get("oneOf", []):
        types |= _declared_types(option)
    return types


def _convert(value: str, types: set[str]) -> tuple[bool, t.Any]:
    """(converted?, value) for one string value of a setting declared with `types`."""
    text = value.strip()
    if "string" in types:
        return False, value
    if "boolean" in types and text.lower() in _BOOLEANS:
        return True, _BOOLEANS[text.lower()]
    if "integer" in types and _NUMBER.match(text) and float(text).is_integer():
        return True, int(float(text))
    if "number" in types and _NUMBER.match(text):
        return True, float(text)
    if "array" in types:
        return True, [item.strip() for item in text.split(",") if item.strip()]
    if not text and "null" in types:
        return True, None
    return False, value


def normalize_legacy_config(config: dict[str, t.Any], schema: dict[str, t.Any]) -> list[str]:
    """Convert singer-io style string values in `config` in place; returns the settings changed."""
    changed: list[str] = []
    properties = schema.get("properties", {})
    for name, value in list(config.items()):
        prop = properties.get(name)
        if prop is None:
            continue
        types = _declared_types(prop)
        if isinstance(value, str):
            converted, new_value = _convert(value, types)
            if converted:
                config[name] = new_value
                changed.append(name)
        elif (
            isinstance(value, list)
            and (prop.get("items") or {}).get("type") in ("string", ["string"])
            # `app_ids: [123, 456]`: Pendo app ids are numbers, the setting lists strings.
            and any(isinstance(item, int) and not isinstance(item, bool) for item in value)
        ):
            config[name] = [str(item) if isinstance(item, int) else item for item in value]
            changed.append(name)
    return changed


def legacy_region(config: dict[str, t.Any]) -> str | None:
    """`eu` when no region or URL is set and the key ends in `.eu` (the singer-io rule)."""
    if config.get("region") or config.get("api_url"):
        return None
    key = config.get("integration_key") or config.get("x_pendo_integration_key") or ""
    return "eu" if isinstance(key, str) and key.endswith(".eu") else None
