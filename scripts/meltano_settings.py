"""Generate the Meltano settings of tap-pendo and target-pendo from their config schemas.

    .venv/bin/python scripts/meltano_settings.py          # rewrite the files below in place
    .venv/bin/python scripts/meltano_settings.py --check  # exit 1 if any of them is stale

Two outputs, from the same `--about`:

* `meltano.yml` (this repository's project): the block between `# BEGIN generated settings:
  NAME` and `# END generated settings: NAME` is replaced; the rest of the file is left as is.
* `plugins/extractors/tap-pendo.yml`, `plugins/loaders/target-pendo.yml`: Meltano Hub-format
  plugin definitions that any Meltano project adds in one command,
  `meltano add extractor tap-pendo --from-ref <path or URL of the file>`. Their `pip_url`
  installs this repository from `REPOSITORY_URL` (one constant: change it, regenerate).

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

# Where this repository lives: the definitions' `pip_url` is `git+` this, `repo` is this.
REPOSITORY_URL = "https://github.com/pendo-singer/pendo-singer"
VARIANT = "pendo-singer"  # the distribution both plugins come in (pyproject.toml)
DEFINITIONS = {
    "tap-pendo": ROOT / "plugins" / "extractors" / "tap-pendo.yml",
    "target-pendo": ROOT / "plugins" / "loaders" / "target-pendo.yml",
}
PLUGIN_TYPES = {"tap-pendo": "extractor", "target-pendo": "loader"}
DESCRIPTIONS = {
    "tap-pendo": (
        "Pendo objects and events (accounts, visitors, pages, features, guides, track types, "
        "reports, metadata fields, page/feature/track/guide/poll events, visitor history)"
    ),
    "target-pendo": (
        "Writes visitor/account/parent-account metadata and track events back to Pendo"
    ),
}
# The smallest groups of settings a plugin can run with (Meltano's `settings_group_validation`).
SETTINGS_GROUPS = {
    "tap-pendo": [["integration_key"], ["x_pendo_integration_key"]],
    "target-pendo": [["integration_key"], ["track_event_secret"]],
}


def plugin_about(name: str) -> dict[str, Any]:
    exe = Path(sys.executable).parent / name
    out = subprocess.run(
        [str(exe), "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    return json.loads(out.stdout)


def plugin_schema(name: str) -> dict[str, Any]:
    return plugin_about(name)["settings"]


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


def to_yaml(items: list[dict[str, Any]], indent: str = INDENT) -> str:
    lines = []
    for item in items:
        first = True
        for key, value in item.items():
            prefix = f"{indent}- " if first else f"{indent}  "
            first = False
            lines.append(f"{prefix}{key}: {scalar(value)}")
    return "\n".join(lines) + "\n"


def definition(name: str) -> str:
    """The Meltano Hub-format plugin definition of `name`, as YAML text."""
    about = plugin_about(name)
    kind = PLUGIN_TYPES[name]
    relative = DEFINITIONS[name].relative_to(ROOT)
    lines = [
        "# Meltano plugin definition, generated by scripts/meltano_settings.py from",
        f"# `{name} --about --format=json`: do not edit. Add it to any Meltano project with",
        f"#   meltano add {kind} {name} --from-ref {REPOSITORY_URL}/raw/main/{relative}",
        "# (or the path of this file in a checkout). To install from a checkout or a wheel",
        "# instead of git, edit `pip_url` in your meltano.yml after adding: `-e /path/to/checkout`",
        "# or `/path/to/pendo_singer-<version>-py3-none-any.whl`.",
        f"name: {name}",
        f"variant: {VARIANT}",
        f"namespace: {name.replace('-', '_')}",
        f"label: {scalar(name)}",
        f"description: {scalar(DESCRIPTIONS[name])}",
        f"repo: {scalar(REPOSITORY_URL)}",
        f"docs: {scalar(REPOSITORY_URL + '#readme')}",
        f"pip_url: {scalar('git+' + REPOSITORY_URL + '.git')}",
        f"executable: {name}",
        "capabilities:",
        *[f"- {scalar(c)}" for c in about["capabilities"]],
        "settings_group_validation:",
        *[f"- {json.dumps(group)}" for group in SETTINGS_GROUPS[name]],
        "settings:",
    ]
    return "\n".join(lines) + "\n" + to_yaml(settings(about["settings"]), indent="")


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


def outputs() -> dict[Path, str]:
    """Every generated file and the text it should have."""
    wanted = {MELTANO_YML: render(MELTANO_YML.read_text())}
    for name, path in DEFINITIONS.items():
        wanted[path] = definition(name)
    return wanted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if any output is not current")
    args = parser.parse_args()
    stale = []
    for path, text in outputs().items():
        current = path.read_text() if path.exists() else None
        if text == current:
            continue
        stale.append(str(path.relative_to(ROOT)))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"{path.relative_to(ROOT)} updated")
    if args.check and stale:
        print(
            f"stale: {', '.join(stale)}: run .venv/bin/python scripts/meltano_settings.py",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
