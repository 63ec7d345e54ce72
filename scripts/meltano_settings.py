"""Generate the `settings:` of tap-pendo and target-pendo in meltano.yml from their config schemas.

    .venv/bin/python scripts/meltano_settings.py          # rewrite meltano.yml in place
    .venv/bin/python scripts/meltano_settings.py --check  # exit 1 if meltano.yml is stale

Every setting `NAME --about --format=json` advertises is written, the SDK's built-in ones
(stream_maps, flattening_*, ...) included: Meltano maps environment variables
(TAP_PENDO_FLATTENING_ENABLED, ...) only to declared settings. The block
between the `# BEGIN generated settings: NAME` and `# END generated settings: NAME` lines
is replaced; everything else in meltano.yml is left as it is.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MELTANO_YML = ROOT / "meltano.yml"
PLUGINS = ("tap-pendo", "target-pendo")
INDENT = "    "  # list items of a plugin's `settings:` in meltano.yml


def plugin_schema(name: str) -> dict[str, Any]:
    exe = Path(sys.executable).parent / name
    out = subprocess.run(
        [str(exe), "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    return json.loads(out.stdout)["settings"]


def json_types(prop: dict[str, Any]) -> set[str]:
    types = prop.get("type", [])
    types = {types} if isinstance(types, str) else set(types)
    for option in prop.get("anyOf", []) + prop.get("oneOf", []):
        types |= json_types(option)
    return types - {"null"}


def kind_of(prop: dict[str, Any]) -> str:
    """Meltano's `kind` for a JSON schema property."""
    types = json_types(prop)
    if prop.get("enum"):
        return "options"
    if "string" in types and prop.get("format") == "date-time":
        return "date_iso8601"
    for json_type, kind in (
        ("object", "object"),
        ("array", "array"),
        ("boolean", "boolean"),
        ("integer", "integer"),
        ("number", "decimal"),
        ("string", "string"),
    ):
        if json_type in types:
            return kind
    return "string"


def settings(schema: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, prop in schema.get("properties", {}).items():
        setting: dict[str, Any] = {"name": name, "kind": kind_of(prop)}
        if prop.get("title"):
            setting["label"] = prop["title"]
        if prop.get("description"):
            setting["description"] = prop["description"]
        if prop.get("default") is not None:
            setting["value"] = prop["default"]
        if setting["kind"] == "options":
            setting["options"] = [{"label": v, "value": v} for v in prop["enum"] if v is not None]
        if prop.get("secret"):
            setting["sensitive"] = True
        out.append(setting)
    return out


PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
YAML_WORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def scalar(value: Any) -> str:
    """A YAML scalar: plain when unambiguous, else JSON (valid YAML flow syntax)."""
    if isinstance(value, str) and PLAIN.fullmatch(value) and value.lower() not in YAML_WORDS:
        return value
    return json.dumps(value, ensure_ascii=False)


def to_yaml(items: list[dict[str, Any]]) -> str:
    lines = []
    for item in items:
        first = True
        for key, value in item.items():
            prefix = f"{INDENT}- " if first else f"{INDENT}  "
            first = False
            lines.append(f"{prefix}{key}: {scalar(value)}")
    return "\n".join(lines) + "\n"


def render(text: str) -> str:
    for name in PLUGINS:
        begin = f"{INDENT}# BEGIN generated settings: {name}\n"
        end = f"{INDENT}# END generated settings: {name}\n"
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
        if not pattern.search(text):
            sys.exit(f"meltano.yml has no generated-settings block for {name}")
        block = begin + to_yaml(settings(plugin_schema(name))) + end
        text = pattern.sub(lambda _m, b=block: b, text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if meltano.yml is not current")
    args = parser.parse_args()
    current = MELTANO_YML.read_text()
    wanted = render(current)
    if args.check:
        if wanted != current:
            print(
                "meltano.yml settings are stale: run .venv/bin/python scripts/meltano_settings.py",
                file=sys.stderr,
            )
            return 1
        return 0
    if wanted != current:
        MELTANO_YML.write_text(wanted)
        print("meltano.yml updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
