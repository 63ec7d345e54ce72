"""README.md's generated tables match what the plugins say about themselves now.

The capabilities, both settings tables, the streams table (from `tap-pendo --discover` against a
simulator) and the regions table are regenerated in memory by scripts/readme_settings.py and
compared with the committed README.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
from types import ModuleType

import pytest

from tests.helpers.e2e import REPO

README = REPO / "README.md"
GENERATED_BLOCKS = (
    "capabilities",
    "tap-pendo settings",
    "target-pendo settings",
    "tap-pendo streams",
    "regions",
)


def generator() -> ModuleType:
    path = REPO / "scripts" / "readme_settings.py"
    spec = importlib.util.spec_from_file_location("readme_settings", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def content() -> dict[str, str]:
    """Every generated block, from the plugins as they are now (one discovery per period)."""
    return generator().blocks()


@pytest.fixture(scope="module")
def regenerated(content: dict[str, str]) -> str:
    return generator().render(README.read_text(), content)


def block(text: str, name: str) -> str:
    label = re.escape(name)
    pattern = rf"<!-- BEGIN generated: {label} .*?-->\n(.*?)<!-- END generated: {label} -->"
    match = re.search(pattern, text, re.DOTALL)
    assert match, f"README.md has no generated block {name!r}"
    return match.group(1)


def test_generated_tables_are_current(regenerated: str) -> None:
    current = README.read_text()
    if regenerated != current:
        diff = "".join(
            difflib.unified_diff(
                current.splitlines(True),
                regenerated.splitlines(True),
                "README.md",
                "regenerated",
                n=1,
            )
        )
        pytest.fail(
            "README.md is stale: run .venv/bin/python scripts/readme_settings.py\n" + diff[:4000]
        )


def test_every_block_is_filled_with_a_table(regenerated: str) -> None:
    for name in GENERATED_BLOCKS:
        rows = [line for line in block(regenerated, name).splitlines() if line.startswith("|")]
        assert len(rows) >= 3, f"{name}: {rows}"


def test_tables_carry_the_settings_and_streams_users_rely_on(regenerated: str) -> None:
    tap = block(regenerated, "tap-pendo settings")
    for setting in (
        "integration_key",
        "x_pendo_integration_key",
        "region",
        "api_url",
        "start_date",
        "lookback_window",
        "stream_maps",
        "flattening_enabled",
        "batch_config",
    ):
        assert f"| {setting} |" in tap, setting
    target = block(regenerated, "target-pendo settings")
    for setting in (
        "track_event_secret",
        "streams",
        "parent_account_kind",
        "dead_letter_path",
        "dry_run",
    ):
        assert f"| {setting} |" in target, setting
    streams = block(regenerated, "tap-pendo streams")
    assert "| `visitor_history` | `rowKey` | `visitorLastUpdated` | no |" in streams
    assert "| `visitors` | `visitorId` | `lastupdated` | yes |" in streams
    regions = block(regenerated, "regions")
    assert "| `eu` | `https://app.eu.pendo.io` | `https://data.eu.pendo.io/data/track` |" in regions


def test_a_stale_table_is_rewritten(content: dict[str, str], regenerated: str) -> None:
    stale = regenerated.replace("| region |", "| region_old |", 1)
    assert stale != regenerated
    assert generator().render(stale, content) == regenerated


def test_generated_blocks_are_the_ones_the_readme_has(content: dict[str, str]) -> None:
    assert set(content) == set(GENERATED_BLOCKS)
