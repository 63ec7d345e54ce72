"""With `batch_config`, no STATE runs ahead of the BATCH files holding the rows it covers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from urllib.parse import urlparse

from pendo_sim import Simulator
from tests.helpers.tap import run_tap

from ._tap import event_config


def _batch_rows(message: dict) -> list[dict]:
    rows = []
    for url in message["manifest"]:
        path = Path(urlparse(url).path)
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            rows += [json.loads(line) for line in handle if line.strip()]
    return rows


def test_page_events_state_follows_the_batches_it_covers(
    event_sim: Simulator, tmp_path: Path
) -> None:
    batches = tmp_path / "batches"
    batches.mkdir()
    config = event_config(
        event_sim,
        batch_config={
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": f"file://{batches}", "prefix": "b-"},
            "batch_size": 150,
        },
    )
    (tmp_path / "run").mkdir()
    messages = run_tap(tmp_path / "run", config, {"page_events"}, check=True).messages

    loaded: list[dict] = []
    states_checked = 0
    every_row = [row for m in messages if m["type"] == "BATCH" for row in _batch_rows(m)]
    assert len(every_row) > 150 * 3  # several batches, several windows
    for message in messages:
        if message["type"] == "BATCH":
            loaded += _batch_rows(message)
        elif message["type"] == "STATE":
            bookmark = message["value"].get("bookmarks", {}).get("page_events", {})
            value = bookmark.get("replication_key_value")
            if value is None:
                continue
            covered = [row for row in every_row if row["day"] < value]
            loaded_keys = {row["rowKey"] for row in loaded}
            missing = [row for row in covered if row["rowKey"] not in loaded_keys]
            assert not missing, (
                f"STATE at {value} came before {len(missing)} of its rows were in a BATCH"
            )
            states_checked += 1
    assert states_checked >= 2
