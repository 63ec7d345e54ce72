"""meltano.yml and the plugin definitions in plugins/ declare the plugins as their own
`--about` describes them (scripts/meltano_settings.py writes both)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.e2e import REPO

BIN = Path(sys.executable).parent
PLUGINS = {"tap-pendo": "extractors", "target-pendo": "loaders"}
# Meltano kinds a JSON schema type may be declared as.
KINDS = {
    "string": {"string", "options", "date_iso8601", "password"},
    "integer": {"integer"},
    "number": {"decimal", "integer"},
    "boolean": {"boolean"},
    "array": {"array"},
    "object": {"object"},
}


def meltano_plugin(name: str) -> dict[str, Any]:
    project = yaml.safe_load((REPO / "meltano.yml").read_text())
    (plugin,) = [p for p in project["plugins"][PLUGINS[name]] if p["name"] == name]
    return plugin


def about(name: str) -> dict[str, Any]:
    out = subprocess.run(
        [str(BIN / name), "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout)


def json_type(prop: dict[str, Any]) -> str:
    types = prop.get("type", [])
    types = [types] if isinstance(types, str) else types
    for option in prop.get("anyOf", []):
        t = option.get("type")
        types += [t] if isinstance(t, str) else (t or [])
    real = [t for t in types if t != "null"]
    return real[0] if real else "string"


@pytest.mark.parametrize("name", list(PLUGINS))
def test_declaration_is_complete(name: str) -> None:
    plugin = meltano_plugin(name)
    assert plugin["namespace"] == name.replace("-", "_")
    assert plugin["pip_url"] == "-e ."
    assert plugin["executable"] == name
    assert "variant" not in plugin  # a variant would send Meltano to the Hub
    for setting in plugin["settings"]:
        assert setting.get("kind"), setting["name"]
        assert setting.get("description"), setting["name"]


@pytest.mark.parametrize("name", list(PLUGINS))
def test_settings_match_about(name: str) -> None:
    info = about(name)
    advertised = info["settings"]["properties"]
    declared = {s["name"]: s for s in meltano_plugin(name)["settings"]}

    assert set(declared) <= set(advertised), (
        f"declared but unknown: {set(declared) - set(advertised)}"
    )
    assert set(advertised) <= set(declared), (
        f"missing from meltano.yml: {set(advertised) - set(declared)}"
    )
    for key, setting in declared.items():
        prop = advertised[key]
        assert bool(setting.get("sensitive")) == bool(prop.get("secret")), (
            f"{key}: sensitive vs secret"
        )
        assert setting["kind"] in KINDS[json_type(prop)], (
            f"{key}: kind {setting['kind']} for {prop}"
        )
    assert set(meltano_plugin(name)["capabilities"]) <= set(info["capabilities"]) | {
        "discover",
        "catalog",
    }


def test_generated_settings_are_current() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "meltano_settings.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr


# -- the plugin definitions users add with `meltano add --from-ref` ---------------------------


def generator():
    import importlib.util

    path = REPO / "scripts" / "meltano_settings.py"
    spec = importlib.util.spec_from_file_location("meltano_settings", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", list(PLUGINS))
def test_plugin_definition_declares_what_about_says(name: str) -> None:
    gen = generator()
    path = REPO / "plugins" / PLUGINS[name] / f"{name}.yml"
    definition = yaml.safe_load(path.read_text())
    info = about(name)
    assert definition["name"] == name
    assert definition["namespace"] == name.replace("-", "_")
    assert definition["executable"] == name
    assert definition["variant"] == gen.VARIANT
    assert definition["pip_url"] == f"git+{gen.REPOSITORY_URL}.git"
    assert "select" not in definition  # Meltano drops it on `add --from-ref`; the tap guards
    assert set(definition["capabilities"]) == set(info["capabilities"])

    advertised = info["settings"]["properties"]
    declared = {s["name"]: s for s in definition["settings"]}
    assert set(declared) == set(advertised)  # every setting, so every env variable maps
    for key, setting in declared.items():
        assert bool(setting.get("sensitive")) == bool(advertised[key].get("secret")), key
        assert setting["kind"] in KINDS[json_type(advertised[key])], key
        assert setting.get("description"), key
    groups = definition["settings_group_validation"]
    assert groups and all(set(group) <= set(declared) for group in groups)
    assert all(declared[g[0]].get("sensitive") for g in groups)  # each group is a secret


def test_tap_definition_declares_the_opt_in_and_activate_version() -> None:
    definition = yaml.safe_load((REPO / "plugins/extractors/tap-pendo.yml").read_text())
    declared = {s["name"]: s for s in definition["settings"]}
    assert declared["visitor_history_enabled"]["kind"] == "boolean"
    assert declared["visitor_history_enabled"]["value"] is False
    assert declared["emit_activate_version_messages"]["kind"] == "boolean"
    assert "activate-version" in definition["capabilities"]
