"""`target-pendo-replay FILE`: a dead-letter file back into Singer input for target-pendo.

    mv dead.jsonl replay.jsonl
    target-pendo-replay replay.jsonl | target-pendo --config config.json

Prints one SCHEMA per stream, then every dead-lettered record as a RECORD, in the order of
the file (per stream, the order the records arrived in). The SCHEMA is inferred from the
records themselves (objects keep their properties, other values accept any type) with the
stream's key properties when the file recorded them; the stream's settings come from the
config as in the original run. Lines that were never records (not JSON, not UTF-8, too
long) cannot be replayed: they are counted on stderr. Only the bytes the file held when the
command started are read, so the replay's own dead letters cannot feed it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import orjson

UNKNOWN_STREAM = "<unknown stream>"


NULL_ONLY: dict[str, Any] = {"type": ["null"]}


def merge_schema(schema: dict[str, Any] | None, value: Any) -> dict[str, Any]:
    """A schema `value` matches, merged into `schema` (None: nothing seen yet). Objects keep
    their properties (the target reads nested metadata through them); anything else, or
    values of different kinds, accept any type.
    """
    if schema == NULL_ONLY:
        schema = None
    if value is None:
        return NULL_ONLY if schema is None else schema
    if not isinstance(value, dict):
        return {}
    if schema is not None and "properties" not in schema:
        return {}
    properties = dict(schema["properties"]) if schema else {}
    for name, child in value.items():
        properties[name] = merge_schema(properties.get(name), child)
    return {"type": ["object", "null"], "properties": properties}


def entries(path: Path, stop: int) -> Iterator[dict[str, Any]]:
    """The dead-letter entries in the file's first `stop` bytes ({} for a line that is not
    one).
    """
    with path.open("rb") as handle:
        read = 0
        for line in handle:
            read += len(line)
            if read > stop:
                return
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                entry = None
            yield entry if isinstance(entry, dict) else {}


def replayable(entry: dict[str, Any]) -> bool:
    """True for a dead-letter entry that holds a record of a named stream."""
    stream, record = entry.get("stream"), entry.get("record")
    return isinstance(stream, str) and stream != UNKNOWN_STREAM and isinstance(record, dict)


def replay(path: Path, out: TextIO, err: TextIO) -> int:
    """Write the replayable entries of dead-letter file `path` to `out` as Singer messages;
    returns the exit status.
    """
    stop = path.stat().st_size
    schemas: dict[str, dict[str, Any]] = {}
    keys: dict[str, list[str]] = {}
    skipped = 0
    for entry in entries(path, stop):
        if not replayable(entry):
            skipped += 1
            continue
        stream = entry["stream"]
        schemas[stream] = merge_schema(schemas.get(stream), entry["record"])
        schemas[stream]["type"] = "object"
        if isinstance(entry.get("key_properties"), list):
            keys[stream] = [str(k) for k in entry["key_properties"]]
    for stream, schema in schemas.items():
        message = {
            "type": "SCHEMA",
            "stream": stream,
            "schema": schema,
            "key_properties": keys.get(stream, []),
        }
        out.write(orjson.dumps(message).decode() + "\n")
    count = 0
    for entry in entries(path, stop):
        if replayable(entry):
            message = {"type": "RECORD", "stream": entry["stream"], "record": entry["record"]}
            out.write(orjson.dumps(message).decode() + "\n")
            count += 1
    out.flush()
    err.write(
        f"target-pendo-replay: {count} record(s) of {len(schemas)} stream(s) from {path}"
        + (f"; {skipped} line(s) that were not records cannot be replayed" if skipped else "")
        + "\n"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """`target-pendo-replay`: the command line of `replay`."""
    parser = argparse.ArgumentParser(
        prog="target-pendo-replay",
        description="Turn a target-pendo dead-letter file into Singer messages on stdout.",
    )
    parser.add_argument("file", type=Path, help="the dead-letter file (move it aside first)")
    args = parser.parse_args(argv)
    if not args.file.is_file():
        sys.stderr.write(f"target-pendo-replay: no such file: {args.file}\n")
        return 2
    return replay(args.file, sys.stdout, sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
