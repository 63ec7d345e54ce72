"""A newcomer's first hour (issue 17): a fresh Meltano project of their own, nothing of ours.

`meltano init` in a temporary folder, then both plugins added in one command each from the
generated plugin definitions (`plugins/*/...yml`, pip_url pointed at this checkout, as the
README says to do for a local checkout), and target-jsonl from PyPI. With no `select`
anywhere:

* `meltano run tap-pendo target-jsonl` extracts, and no visitor-history request reaches the
  simulator (the tap's guard, not a `select`, keeps the expensive stream off);
* `TAP_PENDO_PERIOD=hourRange` takes effect (the definition declares every setting, so Meltano
  maps every `TAP_PENDO_<NAME>` variable);
* `meltano config test` passes for tap-pendo; target-pendo answers Meltano's loader test (its
  own messages, its own pass criteria: exit 0 and no line saying "error" or "exception") by
  checking the key and reading the metadata schema, and writes nothing.

Meltano 4.4.1's loader test then calls `terminate()` on the finished loader, which on Python
3.11 usually fails with ProcessLookupError whatever the loader (target-jsonl too; see
target_pendo/meltano_test.py). The target's side is therefore asserted through `meltano
invoke` with Meltano's own test messages, and `meltano config test target-pendo` is asserted
to reach Meltano's verdict (valid, or that ProcessLookupError) at the default log level. At
`--log-level=debug` Meltano judges any SDK target whose settings mention "error" invalid: the
SDK logs its settings schema at debug level, and Meltano's check flags every line containing
"error" (ours: `error_isolation`).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from pendo_sim import Simulator
from tests.helpers.e2e import MELTANO, REPO, TAP_END_DATE, TAP_START_DATE, tail, unavailable

pytestmark = pytest.mark.slow

HANG_GUARD_SECONDS = 900
DEFINITIONS = {
    "extractor": REPO / "plugins" / "extractors" / "tap-pendo.yml",
    "loader": REPO / "plugins" / "loaders" / "target-pendo.yml",
}
# A small loader from PyPI, declared the way a Meltano Hub definition would be.
TARGET_JSONL = {
    "name": "target-jsonl",
    "variant": "andyh1203",
    "namespace": "target_jsonl",
    "pip_url": "target-jsonl==0.1.4",
    "executable": "target-jsonl",
    "settings": [
        {"name": "destination_path", "kind": "string"},
        {"name": "do_timestamp_file", "kind": "boolean"},
    ],
}


class Project:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env

    def meltano(
        self, *args: str, env: dict[str, str] | None = None, stdin: str = "", check: bool = True
    ) -> str:
        proc = subprocess.run(
            [str(MELTANO), *args],
            cwd=self.root,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=HANG_GUARD_SECONDS,
            input=stdin,
        )
        output = proc.stdout + proc.stderr
        if check:
            assert proc.returncode == 0, f"meltano {' '.join(args)}:\n{tail(output, 60)}"
        return output


def meltano_loader_test_messages() -> str:
    """The messages `meltano config test` sends a loader, from Meltano's own code."""
    code = (
        "from types import SimpleNamespace as N\n"
        "from meltano.core.plugin_test_service import LoaderTestService as L\n"
        "stub = N(plugin_invoker=N(capabilities=[]))\n"
        "print('\\n'.join(L._generate_test_messages(stub, 'meltano_test_stream')))\n"
    )
    out = subprocess.run(
        [str(MELTANO.parent / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=HANG_GUARD_SECONDS,
    )
    assert '"stream": "meltano_test_stream"' in out.stdout
    return out.stdout


def local_definition(path: Path, out: Path) -> Path:
    """The generated definition with pip_url pointed at this checkout (README: local checkout)."""
    definition = yaml.safe_load(path.read_text())
    assert definition["pip_url"].startswith("git+https://"), definition["pip_url"]
    definition["pip_url"] = f"-e {REPO}"
    out.write_text(yaml.safe_dump(definition, sort_keys=False))
    return out


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    if not MELTANO.exists():
        unavailable(f"{MELTANO} is missing (run scripts/setup.sh)")
    base = tmp_path_factory.mktemp("newcomer")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_", "TARGET_", "MELTANO_"))}
    env.update({"MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "NO_COLOR": "1"})
    subprocess.run(
        [str(MELTANO), "init", "proj", "--no_usage_stats"],
        cwd=base,
        env=env,
        check=True,
        capture_output=True,
        timeout=HANG_GUARD_SECONDS,
    )
    project = Project(base / "proj", env)
    for plugin_type, path in DEFINITIONS.items():
        ref = local_definition(path, base / path.name)
        name = path.stem
        project.meltano("add", "--plugin-type", plugin_type, name, "--from-ref", str(ref))
    jsonl = base / "target-jsonl.yml"
    jsonl.write_text(yaml.safe_dump(TARGET_JSONL))
    project.meltano("add", "--plugin-type", "loader", "target-jsonl", "--from-ref", str(jsonl))
    project.meltano("install")
    return project


def test_project_is_the_users_own(project: Project) -> None:
    config = yaml.safe_load((project.root / "meltano.yml").read_text())
    (tap,) = config["plugins"]["extractors"]
    assert tap["name"] == "tap-pendo"
    assert "select" not in tap  # nothing keeps visitor_history off but the tap itself
    assert {s["name"] for s in tap["settings"]} >= {"period", "visitor_history_enabled"}
    assert (REPO / "meltano.yml").read_text() != (project.root / "meltano.yml").read_text()


def test_run_with_no_select_skips_visitor_history_and_reads_env(
    project: Project, sim: Simulator
) -> None:
    out_dir = project.root / "out"
    out_dir.mkdir()
    env = {
        "TAP_PENDO_API_URL": sim.url,
        "TAP_PENDO_INTEGRATION_KEY": sim.integration_key,
        "TAP_PENDO_START_DATE": TAP_START_DATE,
        "TAP_PENDO_END_DATE": TAP_END_DATE,
        "TAP_PENDO_PERIOD": "hourRange",
        "TARGET_JSONL_DESTINATION_PATH": str(out_dir),
        "TARGET_JSONL_DO_TIMESTAMP_FILE": "false",
    }
    log = project.meltano("run", "tap-pendo", "target-jsonl", env=env)

    paths = [path for _method, path, _status in sim.request_log]
    assert any(p.startswith("/api/v1/aggregation") for p in paths)  # it did extract
    assert not [p for p in paths if "/history" in p], "visitor history was requested"
    assert "visitor_history is selected but not read" in log
    assert "Unknown setting" not in log  # Meltano passes only declared settings
    assert "Traceback" not in log

    events = [json.loads(line) for line in (out_dir / "events.jsonl").read_text().splitlines()]
    assert events
    assert all("hour" in row and "day" not in row for row in events)  # hourRange rows
    assert len({row["hour"] for row in events}) > 3  # hours, not the simulator's 3 days
    assert not (out_dir / "visitor_history.jsonl").exists()
    assert (out_dir / "visitors.jsonl").read_text().strip()


def test_config_test_for_both_plugins(project: Project, sim: Simulator) -> None:
    env = {
        "TAP_PENDO_API_URL": sim.url,
        "TAP_PENDO_INTEGRATION_KEY": sim.integration_key,
        "TARGET_PENDO_API_URL": sim.url,
        "TARGET_PENDO_INTEGRATION_KEY": sim.integration_key,
        "TARGET_PENDO_DEAD_LETTER_PATH": str(project.root / "dead-letter.jsonl"),
    }
    out = project.meltano("config", "test", "tap-pendo", env=env)
    assert "Plugin configuration is valid" in out, tail(out)

    # The target's side of Meltano's loader test, by Meltano's criteria.
    messages = meltano_loader_test_messages()
    out = project.meltano("invoke", "target-pendo", env=env, stdin=messages)
    assert "meltano config test: integration key accepted" in out
    assert "Nothing was written to Pendo" in out
    flagged = [x for x in out.splitlines() if "error" in x.lower() or "exception" in x.lower()]
    assert not flagged, flagged

    # At debug level Meltano shows the target's own verdict line...
    out = project.meltano(
        "--log-level=debug", "config", "test", "target-pendo", env=env, check=False
    )
    assert "meltano config test: integration key accepted" in out, tail(out)
    # ...but its own verdict is taken at the default level: at debug level the SDK's dump of
    # the settings schema names `error_isolation`, and Meltano flags any line saying "error".
    out = project.meltano("config", "test", "target-pendo", env=env, check=False)
    assert "Plugin configuration is valid" in out or "ProcessLookupError" in out, tail(out)

    writes = [(m, p) for m, p, _s in sim.request_log if m in ("POST", "PUT", "DELETE")]
    assert all(p.startswith("/api/v1/aggregation") for _m, p in writes), writes
    assert not sim.store.metadata_writes


def test_target_config_test_fails_for_a_wrong_key(project: Project, sim: Simulator) -> None:
    env = {"TARGET_PENDO_API_URL": sim.url, "TARGET_PENDO_INTEGRATION_KEY": "not-the-key"}
    out = project.meltano(
        "invoke", "target-pendo", env=env, stdin=meltano_loader_test_messages(), check=False
    )
    (line,) = [x for x in out.splitlines() if "target-pendo stopped: Pendo refused" in x]
    assert "`integration_key`" in line
    assert "Traceback" not in out
