"""Generate the README's tables about the plugins from the plugins themselves.

    .venv/bin/python scripts/readme_settings.py          # rewrite README.md in place
    .venv/bin/python scripts/readme_settings.py --check  # exit 1 if README.md is stale

Each table sits between `<!-- BEGIN generated: NAME ... -->` and `<!-- END generated: NAME -->`
lines in README.md; everything else in the README is left as it is.

* `capabilities`: both plugins' `--about --format=json` capabilities, one line each;
* `tap-pendo settings`, `target-pendo settings`: the settings table of `--about --format=markdown`
  (the SDK's built-in settings included);
* `tap-pendo streams`: `tap-pendo --discover` run against a local simulator, once with
  `period: dayRange` and once with `hourRange`, plus what each stream reads (STREAM_SOURCES);
* `regions`: the hosts of `pendo_http.regions.REGIONS`, which both plugins use.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
PLUGINS = ("tap-pendo", "target-pendo")
GENERATOR = "scripts/readme_settings.py"

# What a capability means for these plugins. A capability the plugins advertise without a line
# here stops the generator: the README must say what it is.
CAPABILITIES = {
    "about": (
        "`--about` prints the plugin's settings and capabilities (`--format=json` or `markdown`)."
    ),
    "discover": (
        "`--discover` prints the catalog; visitor and account metadata fields are typed from "
        "Pendo's metadata schema, so SQL targets create typed columns."
    ),
    "catalog": "`--catalog` selects streams and fields (Meltano's `select`).",
    "state": (
        "`--state` resumes from the bookmarks of the last run; STATE messages are emitted as it "
        "goes."
    ),
    "activate-version": (
        "With `emit_activate_version_messages: true`, the "
        "full-table streams `reports`, `metadata_fields` and `pendo_users` send ACTIVATE_VERSION, "
        "so a target can drop rows that disappeared."
    ),
    "stream-maps": (
        "`stream_maps`: rename, drop, filter, hash or add fields and streams on the way "
        "(see *Moving from singer-io tap-pendo* for an example)."
    ),
    "schema-flattening": (
        "`flattening_enabled`, `flattening_max_depth`: nested objects such as "
        "`metadata.custom.*` become columns (`metadata__custom__plan`)."
    ),
    "batch": (
        "`batch_config`: records go to compressed JSONL files and the output carries BATCH "
        "messages that point at them."
    ),
    "structured-logging": (
        "Logging is configurable with a YAML `logging.config` file named in "
        "`SINGER_SDK_LOG_CONFIG` (the SDK's `StructuredFormatter` writes JSON lines)."
    ),
    "validate-records": (
        "`validate_records` (default true): records are checked against their "
        "SCHEMA; a record that fails goes to the dead-letter file."
    ),
}

# What each tap stream reads, in Pendo's terms (from tap_pendo/streams.py, events/streams.py,
# events/visitor_history.py). A discovered stream without a line here stops the generator.
STREAM_SOURCES = {
    "accounts": (
        "Aggregation source `accounts` (every app, or `app_ids`), filtered on the server on "
        "`metadata.auto.lastupdated` (and bounded on it by a `timeSeries` in the source), paged "
        "by (lastupdated, accountId); the key is copied to a top-level `lastupdated`."
    ),
    "visitors": (
        "Aggregation source `visitors` (identified visitors unless "
        "`include_anonymous_visitors`), filtered and paged like `accounts`."
    ),
    "pages": (
        "`GET /api/v1/page?expand=*` (every app; `app_ids` applied to `appId`); bookmark "
        "applied to `lastUpdatedAt` as the list streams in."
    ),
    "features": "`GET /api/v1/feature?expand=*`, as `pages`.",
    "guides": "`GET /api/v1/guide?expand=*`, as `pages`.",
    "track_types": "`GET /api/v1/tracktype?expand=*`, as `pages`.",
    "reports": "`GET /api/v1/report`, every run in full.",
    "metadata_fields": (
        "`GET /api/v1/metadata/schema/{visitor,account,parentAccount}`: one row per "
        "(kind, group, field); parent accounts only where the subscription has them."
    ),
    "applications": (
        "Aggregation source `apps` (Pendo documents no app list; its UI reads this source), "
        "bookmark applied to `lastUpdatedAt`; where refused, app ids from the per-app metadata "
        "groups, without names."
    ),
    "segments": "`GET /api/v1/segment`, bookmark applied to `lastUpdatedAt` as `pages`.",
    "product_areas": (
        "The `group` objects nested in pages and features (no documented list endpoint), "
        "one row per version; `appId` null when an area spans apps."
    ),
    "pendo_users": (
        "`createdByUser` / `lastUpdatedByUser` nested in pages, features, guides, track types, "
        "reports and their product areas, every run in full."
    ),
    "page_rules": "`rules` of each page, from the `pages` list (read once per run).",
    "feature_rules": "`elementPathRules` of each feature, from the `features` list.",
    "track_type_rules": "`trackTypeRules` of each track type, from the `track_types` list.",
    "guide_steps": "`steps` of each guide, from the `guides` list.",
    "polls": "`polls` of each guide, from the `guides` list.",
    "visitor_accounts": (
        "`metadata.auto.accountids` of visitors, read through the `visitors` stream's pages "
        "and bookmark rules."
    ),
    "events": (
        "Aggregation source `events` (page and feature rows) in `timeSeries` windows of "
        "`event_window_days`, every selected app in one request per window."
    ),
    "page_events": "Aggregation source `pageEvents`, windowed as `events`.",
    "feature_events": "Aggregation source `featureEvents`, windowed as `events`.",
    "track_events": "Aggregation source `trackEvents`, windowed as `events`.",
    "guide_events": (
        "Aggregation source `guideEvents` in windows of `event_window_days` whole days; "
        "one row per guide event."
    ),
    "poll_events": (
        "Aggregation source `pollEvents`, windowed as `guide_events`; one row per poll event."
    ),
    "visitor_history": (
        "`GET /api/v1/visitor/{id}/history?starttime=...`, one call per visitor per "
        "day, for the visitors updated since its bookmark (at most Pendo's ~180 days)."
    ),
}


# -- reading the plugins ----------------------------------------------------------------------


def run_plugin(name: str, *args: str) -> str:
    out = subprocess.run(
        [str(BIN / name), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    return out.stdout


def about_json(name: str) -> dict[str, Any]:
    return json.loads(run_plugin(name, "--about", "--format=json"))


def settings_table(name: str) -> str:
    """The `## Settings` table of `NAME --about --format=markdown`."""
    markdown = run_plugin(name, "--about", "--format=markdown")
    section = markdown.split("\n## Settings\n", 1)[1]
    rows = []
    for line in section.strip().splitlines():
        if not line.startswith("|"):
            break
        rows.append(line)
    if len(rows) < 3:
        sys.exit(f"{name} --about --format=markdown has no settings table")
    return "\n".join(rows)


def capabilities_table() -> str:
    advertised = {name: about_json(name)["capabilities"] for name in PLUGINS}
    order: list[str] = []
    for caps in advertised.values():
        order += [c for c in caps if c not in order]
    unknown = [c for c in order if c not in CAPABILITIES]
    if unknown:
        sys.exit(f"{GENERATOR}: describe the capabilities {unknown} in CAPABILITIES")
    lines = ["| capability | tap-pendo | target-pendo | what it gives you |", "|---|:-:|:-:|---|"]
    for cap in order:
        marks = ["yes" if cap in advertised[name] else "" for name in PLUGINS]
        lines.append(f"| `{cap}` | {marks[0]} | {marks[1]} | {CAPABILITIES[cap]} |")
    return "\n".join(lines)


def discover(period: str) -> dict[str, dict[str, Any]]:
    """`tap-pendo --discover` against a small local simulator: stream id -> catalog entry."""
    from pendo_sim import DatasetConfig, Simulator

    with (
        Simulator(DatasetConfig(seed=1, visitors=5, accounts=2, anonymous_visitors=1)) as sim,
        tempfile.TemporaryDirectory() as tmp,
    ):
        config = Path(tmp) / "tap.json"
        config.write_text(
            json.dumps(
                {
                    "api_url": sim.url,
                    "integration_key": sim.integration_key,
                    "period": period,
                    "max_retries": 1,
                }
            )
        )
        catalog = json.loads(run_plugin("tap-pendo", "--discover", "--config", str(config)))
    return {entry["tap_stream_id"]: entry for entry in catalog["streams"]}


def stream_row(entry: dict[str, Any], hourly: dict[str, Any]) -> list[str]:
    (top,) = [m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == []]
    keys = ", ".join(f"`{k}`" for k in entry.get("key_properties") or [])
    key = entry.get("replication_key")
    if not key:
        replication = "full table"
    else:
        replication = f"`{key}`"
        if hourly.get("replication_key") != key:
            replication += f" (`{hourly['replication_key']}` with `period: hourRange`)"
    selected = "yes" if top.get("selected-by-default") else "no"
    return [f"`{entry['tap_stream_id']}`", keys, replication, selected]


def streams_table() -> str:
    daily, hourly = discover("dayRange"), discover("hourRange")
    missing = sorted(n for n in daily if n not in STREAM_SOURCES)
    if missing:
        sys.exit(f"{GENERATOR}: describe the streams {missing} in STREAM_SOURCES")
    gone = [n for n in STREAM_SOURCES if n not in daily]
    if gone:
        sys.exit(f"{GENERATOR}: STREAM_SOURCES lists streams the tap does not have: {gone}")
    lines = [
        "| stream | primary key | replication key | selected by default | reads |",
        "|---|---|---|:-:|---|",
    ]
    for name in STREAM_SOURCES:
        cells = [*stream_row(daily[name], hourly[name]), STREAM_SOURCES[name]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def regions_table() -> str:
    from pendo_http.regions import DEFAULT_REGION, REGIONS

    lines = [
        "| `region` | API base (requests go to `<base>/api/v1/...`) "
        "| track-event URL (target-pendo) |",
        "|---|---|---|",
    ]
    for region in REGIONS.values():
        name = f"`{region.name}`" + (" (default)" if region.name == DEFAULT_REGION else "")
        lines.append(f"| {name} | `{region.api_base}` | `{region.track_url}` |")
    return "\n".join(lines)


# -- the README ---------------------------------------------------------------------------------


def blocks() -> dict[str, str]:
    return {
        "capabilities": capabilities_table(),
        "tap-pendo settings": settings_table("tap-pendo"),
        "target-pendo settings": settings_table("target-pendo"),
        "tap-pendo streams": streams_table(),
        "regions": regions_table(),
    }


def render(text: str, content: dict[str, str] | None = None) -> str:
    """`text` (the README) with each generated block replaced by `content` (default `blocks()`)."""
    for name, body in (content or blocks()).items():
        begin = f"<!-- BEGIN generated: {name} (run {GENERATOR}; do not edit) -->\n"
        end = f"<!-- END generated: {name} -->\n"
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
        if not pattern.search(text):
            sys.exit(f"README.md has no generated block {name!r}")
        block = begin + body + "\n" + end
        text = pattern.sub(lambda _m, b=block: b, text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if README.md is not current")
    args = parser.parse_args()
    current = README.read_text()
    wanted = render(current)
    if args.check:
        if wanted != current:
            print(
                f"README.md's generated tables are stale: run .venv/bin/python {GENERATOR}",
                file=sys.stderr,
            )
            return 1
        return 0
    if wanted != current:
        README.write_text(wanted)
        print("README.md updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
