"""meltano.yml declares the plugins as their own `--about` describes them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import REPO

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
