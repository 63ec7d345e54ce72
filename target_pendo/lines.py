"""Input lines as bytes, one at a time, none longer than a limit held in memory.

Decoding is left to the caller, per line: a byte that is not UTF-8 concerns its own line
only, never the lines read with it in the same chunk.
"""

from __future__ import annotations

import io
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass

DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024
_SKIP_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Line:
    """One input line: its number, its bytes (None when too long to read) and its size."""

    number: int
    data: bytes | None  # None: longer than the limit, skipped without being held
    size: int


def binary_source(file_input: t.IO[t.Any]) -> t.IO[bytes] | None:
    """The byte stream under `file_input` (stdin, an opened file), or None for a text-only
    stream (a StringIO handed in by a test or a caller).
    """
    stream: object = file_input  # typeshed's IO and io's classes do not overlap
    if isinstance(stream, io.TextIOBase) and hasattr(stream, "buffer"):
        return t.cast("t.IO[bytes]", stream.buffer)
    if isinstance(stream, (io.RawIOBase, io.BufferedIOBase)):
        return t.cast("t.IO[bytes]", stream)
    return None


def _skip_rest(source: t.IO[bytes], size: int) -> int:
    """Read to the end of an overlong line in bounded chunks; its total size."""
    while True:
        chunk = source.readline(_SKIP_CHUNK)
        size += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return size


def read_lines(file_input: t.IO[t.Any], max_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Line]:
    """Every line of `file_input`, numbered from 1, newline included."""
    source = binary_source(file_input)
    if source is None:
        for number, text in enumerate(file_input, start=1):
            # A lone surrogate in a text stream fails decoding later, like the byte would.
            data = text.encode("utf-8", "surrogatepass")
            yield Line(number, None if len(data) > max_bytes else data, len(data))
        return
    number = 0
    while True:
        data = source.readline(max_bytes + 1)
        if not data:
            return
        number += 1
        if len(data) > max_bytes and not (len(data) == max_bytes + 1 and data.endswith(b"\n")):
            yield Line(number, None, _skip_rest(source, len(data)))
        else:
            yield Line(number, data, len(data))
