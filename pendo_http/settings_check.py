"""Settings the plugin does not know: named in one warning, each with the closest known name.

A misspelled setting (`integration_kye`, `regoin`) is otherwise dropped without a word and the
run goes on with the default. Only names are reported, never values (a value may be a secret).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any


def unknown_settings_message(
    config: Mapping[str, Any], known: Iterable[str], *, plugin: str
) -> str | None:
    """One line naming every key of `config` that is not in `known`, or None when all are."""
    known_names = sorted(set(known))
    unknown = sorted(name for name in config if name not in known_names)
    if not unknown:
        return None
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, known_names, n=1, cutoff=0.6)
        parts.append(f"`{name}` (did you mean `{close[0]}`?)" if close else f"`{name}`")
    noun = "setting" if len(unknown) == 1 else "settings"
    return (
        f"Unknown {noun} ignored: {', '.join(parts)}. "
        f"`{plugin} --about` lists the settings {plugin} reads."
    )
