"""A tap-like replayer of a Singer message file, for kill-and-resume tests.

    python singer_replay.py MESSAGES.jsonl ['{"records": 40}']

Writes every SCHEMA message, then, like a tap resuming from a bookmark, every message
after the STATE whose value equals the given one (all messages when none is given).
"""

from __future__ import annotations

import json
import sys


def replay(path: str, state: object | None) -> None:
    with open(path, encoding="utf-8") as handle:
        lines = handle.readlines()
    messages = [json.loads(line) for line in lines]
    start = 0
    if state is not None:
        start = next(
            i + 1
            for i, m in enumerate(messages)
            if m.get("type") == "STATE" and m.get("value") == state
        )
    out = sys.stdout
    for line, message in zip(lines, messages, strict=True):
        if message.get("type") == "SCHEMA":
            out.write(line)
    for line, message in zip(lines[start:], messages[start:], strict=True):
        if message.get("type") != "SCHEMA":
            out.write(line)
    out.flush()


if __name__ == "__main__":
    try:
        replay(sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else None)
    except BrokenPipeError:  # the target was killed: that is the point of the test
        sys.stderr.close()
        sys.exit(1)
