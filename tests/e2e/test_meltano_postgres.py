"""tap-pendo -> target-postgres, through Meltano and through a plain pipe, against the simulator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.e2e import (
    PLUGIN_BIN,
    TAP_END_DATE,
    TAP_START_DATE,
    Meltano,
    Postgres,
    postgres_env,
    tail,
    tap_env,
    write_json,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TAP_BIN = Path(sys.executable).parent / "tap-pendo"
# Entity streams whose exact row count the simulator knows: stream -> (truth, primary key).
ENTITY_STREAMS = {
    "visitors": (lambda ds: ds.visitors(identified_only=True), "visitorId"),
    "accounts": (lambda ds: ds.accounts(), "accountId"),
    "pages": (lambda ds: ds.pages(), "id"),
    "features": (lambda ds: ds.features(), "id"),
    "guides": (lambda ds: ds.guides(), "id"),
    "track_types": (lambda ds: ds.track_types(), "id"),
}
# The streams the Meltano tests select (visitor_history, one request per visitor, is left to
# the pipe test, which runs the tap's default catalog).
SELECT = json.dumps(
    [f"{s}.*" for s in [*ENTITY_STREAMS, "page_events", "feature_events", "track_events"]]
)
# Flatten nested objects so Pendo's typed metadata fields become typed columns.
FLATTEN = {"TAP_PENDO_FLATTENING_ENABLED": "true", "TAP_PENDO_FLATTENING_MAX_DEPTH": "3"}


def truth_counts(sim: Any) -> dict[str, int]:
    return {stream: len(rows(sim.dataset)) for stream, (rows, _) in ENTITY_STREAMS.items()}


def column(types: dict[str, str], suffix: str) -> tuple[str, str]:
    """The (name, type) of the column whose name ends with `suffix`, e.g. `custom__isbeta`."""
    found = [(name, kind) for name, kind in types.items() if name.lower().endswith(suffix)]
    assert len(found) == 1, f"expected one column *{suffix}, got {found} among {sorted(types)}"
    return found[0]


def test_meltano_run_loads_every_entity_with_typed_columns_and_resumes_from_state(
    sim: Any, pg: Postgres, meltano: Meltano
) -> None:
    meltano.env.update({**tap_env(sim, TAP_PENDO__SELECT=SELECT, **FLATTEN), **postgres_env(pg)})

    meltano("run", "tap-pendo", "target-postgres")

    tables = pg.tables()
    truth = truth_counts(sim)
    assert set(truth) <= tables, f"missing tables: {set(truth) - tables}"
    for stream, (_, key) in ENTITY_STREAMS.items():
        assert pg.count(stream) == truth[stream], stream
        assert pg.count(stream, distinct=key) == truth[stream], f"{stream}: duplicate keys"
    # Event streams: present and non-empty over the simulator's event days.
    for stream in ("page_events", "feature_events", "track_events"):
        assert stream in tables and pg.count(stream) > 0, stream

    # Pendo's metadata schema types custom fields; those types must survive to PostgreSQL.
    visitor_types = pg.column_types("visitors")
    assert column(visitor_types, "custom__isbeta")[1] == "boolean"
    assert column(visitor_types, "custom__seats")[1] in {"bigint", "integer"}
    assert column(visitor_types, "custom__score")[1] in {"double precision", "numeric", "real"}
    account_types = pg.column_types("accounts")
    assert column(account_types, "custom__active")[1] == "boolean"
    assert column(account_types, "agent__employees")[1] in {"bigint", "integer"}

    # Second run from the saved state: upserts on the primary keys, no duplicate rows.
    before = {t: pg.count(t) for t in tables if not t.startswith("_")}
    meltano("run", "tap-pendo", "target-postgres")
    after = {t: pg.count(t) for t in tables if not t.startswith("_")}
    assert after == before

    listed = meltano("state", "list")
    assert "tap-pendo-to-target-postgres" in listed.stdout + listed.stderr


def test_incremental_run_picks_up_only_changed_accounts(
    sim: Any, pg: Postgres, meltano: Meltano
) -> None:
    meltano.env.update({**tap_env(sim, TAP_PENDO__SELECT=SELECT), **postgres_env(pg)})
    meltano("run", "tap-pendo", "target-postgres")
    total = pg.count("accounts")

    # Pendo changes three accounts after the first run: a new custom value, a new lastupdated.
    accounts = sim.dataset.accounts()
    changed = [a["accountId"] for a in accounts[:3]]
    untouched = accounts[3]
    changed_at = sim.dataset.now_ms + 60_000
    table = sim.dataset.account_table
    for n, aid in enumerate(changed):
        table.set_values(table.index_of(aid), "custom", {"tier": f"late-{n}"}, changed_at)
    meltano("run", "tap-pendo", "target-postgres")
    assert pg.count("accounts") == total
    assert pg.count("accounts", distinct="accountId") == total

    # The changed values are what PostgreSQL now holds (upserted in place), and only they.
    schema_ = pg.schema
    rows = pg.query(
        f'SELECT "accountId", metadata, lastupdated FROM "{schema_}"."accounts"'
        ' WHERE "accountId" = ANY(%s)',
        ([*changed, untouched["accountId"]],),
    )
    found = {aid: (_json(md), lu) for aid, md, lu in rows}
    for n, aid in enumerate(changed):
        metadata, lastupdated = found[aid]
        assert metadata["custom"]["tier"] == f"late-{n}", aid
        assert int(lastupdated) == changed_at, aid
    metadata, lastupdated = found[untouched["accountId"]]
    assert metadata["custom"]["tier"] == untouched["metadata"]["custom"]["tier"]
    assert int(lastupdated) == untouched["metadata"]["auto"]["lastupdated"]


def _json(value: Any) -> dict:
    return json.loads(value) if isinstance(value, str) else value


def test_plain_pipe_tap_pendo_into_target_postgres(
    sim: Any, pg: Postgres, tmp_path: Path, meltano_installed: Path
) -> None:
    """The Singer way, no Meltano: `tap-pendo --config c.json | target-postgres --config p.json`."""
    tap_config = write_json(
        tmp_path / "tap.json",
        {
            "api_url": sim.url,
            "integration_key": sim.integration_key,
            "start_date": TAP_START_DATE,
            "end_date": TAP_END_DATE,
            "max_retries": 5,
            "retry_backoff_seconds": 0.05,
        },
    )
    target_config = write_json(tmp_path / "target.json", pg.target_config())
    tap_err = (tmp_path / "tap.err").open("w")
    tap = subprocess.Popen(
        [str(TAP_BIN), "--config", str(tap_config)],
        stdout=subprocess.PIPE,
        stderr=tap_err,
        stdin=subprocess.DEVNULL,
    )
    target = subprocess.run(
        [str(PLUGIN_BIN["target-postgres"]), "--config", str(target_config)],
        stdin=tap.stdout,
        capture_output=True,
        text=True,
        timeout=900,
    )
    tap.stdout.close()
    tap_rc = tap.wait(timeout=60)
    tap_err.close()
    assert tap_rc == 0, tail((tmp_path / "tap.err").read_text())
    assert target.returncode == 0, tail(target.stderr)

    truth = truth_counts(sim)
    for stream in truth:
        assert pg.count(stream) == truth[stream], stream
    # The target echoes the last STATE it committed: a bookmark per incremental stream.
    states = [json.loads(line) for line in target.stdout.splitlines() if line.strip()]
    assert states and "bookmarks" in states[-1]
    assert {"visitors", "accounts"} <= set(states[-1]["bookmarks"])
