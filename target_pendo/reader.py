"""The target's input reader: the SDK's, except that one bad line never stops the run."""

from __future__ import annotations

import json
import logging
import sys
import typing as t

import msgspec
from singer_sdk.contrib.msgspec import decoder as _msgspec_decoder  # same types: Decimal floats
from singer_sdk.exceptions import (
    InvalidRecord,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)
from singer_sdk.io_base import SingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.singerlib.json import deserialize_json as _deserialize_json
from typing_extensions import override

from target_pendo.abort import TargetAbort
from target_pendo.ledger import Ledger
from target_pendo.lines import DEFAULT_MAX_LINE_BYTES, read_lines

# Input problems that concern one line: the line's record is dead-lettered and the run goes on.
LINE_ERRORS: tuple[type[BaseException], ...] = (
    InvalidInputLine,
    RecordsWithoutSchemaException,
    MissingKeyPropertiesError,
    InvalidRecord,
    ValueError,
    KeyError,
    TypeError,
    RecursionError,
)


def message_problem(message: dict[str, t.Any]) -> str | None:
    """Why a Singer message cannot be processed, or None: the shape checks the SDK leaves to
    an AttributeError deep in its code (a `record` that is a string, a `schema` that is a list).
    """
    kind = message.get("type")
    if not isinstance(kind, str):
        return "`type` is not a string"
    if kind in ("RECORD", "SCHEMA", "ACTIVATE_VERSION", "BATCH") and not isinstance(
        message.get("stream"), str
    ):
        return f"{kind} message without a `stream` name"
    if kind == "RECORD" and not isinstance(message.get("record"), dict):
        return "RECORD message whose `record` is not a JSON object"
    if kind == "SCHEMA":
        schema = message.get("schema")
        if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
            return "SCHEMA message whose `schema` is not an object with `properties`"
        keys = message.get("key_properties")
        if keys is not None and not (
            isinstance(keys, list) and all(isinstance(k, str) for k in keys)
        ):
            return "SCHEMA message whose `key_properties` is not a list of field names"
    if kind == "STATE" and "value" not in message:
        return "STATE message without a `value`"
    return None


MAX_DEPTH = 64  # JSON nesting; the SDK's deepcopy of a message fails at about 100 levels


def nesting_exceeds(value: t.Any, limit: int) -> bool:
    """True when objects/arrays in `value` nest deeper than `limit` (iterative: a deep
    value must not exhaust the stack here either).
    """
    if not isinstance(value, (dict, list)):
        return False
    stack: list[tuple[t.Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def decode_problem(data: bytes) -> str | None:
    """Why a line's bytes are not UTF-8 text, naming the first bad byte; None when they are."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        return (
            f"byte 0x{data[error.start]:02x} at position {error.start} is not UTF-8 "
            f"({error.reason})"
        )
    return None


class TolerantReader(SingerReader):
    """The SDK's reader, except that one bad line never stops the run.

    Lines are read as bytes and decoded one by one (lines.py). A line that is not UTF-8,
    longer than `max_line_bytes`, not JSON, nested deeper than MAX_DEPTH, a RECORD before
    its SCHEMA, a record missing its key properties, an unknown message type: logged, the
    line (or its record) dead-lettered with its line number, and the next line read.
    TargetAbort (nothing more can be written) still stops the run.

    Until `report_to` gives it a ledger, a bad line raises InvalidInputLine as the SDK's does.
    """

    ledger: Ledger | None = None
    logger: logging.Logger = logging.getLogger("target-pendo")
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    line_number = 0
    current_line: str | None = None

    def report_to(self, ledger: Ledger, logger: logging.Logger, max_line_bytes: int) -> None:
        """Dead-letter bad lines in `ledger` and log them to `logger`."""
        self.ledger = ledger
        self.logger = logger
        self.max_line_bytes = max_line_bytes

    @override
    def deserialize_json(self, line: str) -> t.Any:
        """Like the SDK's, without logging a traceback for a line that is not JSON."""
        try:
            return _msgspec_decoder.decode(line)
        except msgspec.DecodeError:
            pass  # the SDK's parser decides (and explains): it also reads NaN and lone surrogates
        try:
            return _deserialize_json(line)
        except (json.JSONDecodeError, ValueError) as error:
            raise InvalidInputLine(str(error)) from error

    def decode_line(self, number: int, data: bytes | None, size: int) -> dict[str, t.Any] | None:
        """The line's message, or None after dead-lettering why it has none."""
        if data is None:
            self._bad_line(
                None,
                "",
                f"line {number} is {size} bytes, more than `max_line_bytes` "
                f"({self.max_line_bytes}): not read",
            )
            return None
        problem = decode_problem(data)
        if problem is not None:
            text = data.decode("utf-8", "backslashreplace")
            self._bad_line(None, text, f"line {number} is not valid UTF-8: {problem}")
            return None
        line = data.decode("utf-8")
        if not line.strip():
            return None
        self.current_line = line
        try:
            line_dict = self.deserialize_json(line)
        except (InvalidInputLine, RecursionError) as error:
            self._bad_line(None, line, f"line {number} is not valid JSON: {error}")
            return None
        brackets = data.count(b"{") + data.count(b"[")
        if brackets > MAX_DEPTH and nesting_exceeds(line_dict, MAX_DEPTH):
            self._bad_line(
                None, line, f"line {number} nests objects/arrays more than {MAX_DEPTH} levels deep"
            )
            return None
        if not isinstance(line_dict, dict) or "type" not in line_dict:
            self._bad_line(None, line, f"line {number} is not a Singer message (no `type`)")
            return None
        problem = message_problem(line_dict)
        if problem is not None:
            self._bad_line(line_dict, line, f"line {number}: {problem}")
            return None
        return line_dict

    @override
    def process_lines(
        self,
        file_input: t.IO[t.Any] | None,
        callbacks: dict[str, t.Callable[[dict[str, t.Any]], None]],
    ) -> t.Counter[str]:
        stats: t.Counter[str] = t.Counter()
        filein = file_input or sys.stdin
        for entry in read_lines(filein, self.max_line_bytes):
            number = entry.number
            self.line_number = number
            if entry.data is not None and not entry.data.strip():
                continue
            line_dict = self.decode_line(number, entry.data, entry.size)
            if line_dict is None:
                stats["invalid"] += 1
                continue
            record_type = line_dict["type"]
            callback = callbacks.get(record_type)
            if callback is None:
                if self.ledger is not None:
                    self.logger.warning("Ignoring a message of unknown type %r.", record_type)
                stats["unknown"] += 1
                continue
            try:
                callback(line_dict)
            except TargetAbort:
                raise
            except LINE_ERRORS as error:
                self._bad_line(
                    line_dict,
                    self.current_line or "",
                    f"line {number}: {type(error).__name__}: {error}",
                )
            stats[record_type] += 1
        return stats

    def _bad_line(self, message: dict[str, t.Any] | None, line: str, reason: str) -> None:
        ledger = self.ledger
        if ledger is None:
            raise InvalidInputLine(reason)
        number = self.line_number or None
        if message is not None and message.get("type") == "RECORD":
            stream = message.get("stream")
            self.logger.error("Record of stream %r not written: %s", stream, reason)
            ledger.reject_line(
                stream if isinstance(stream, str) else None,
                message.get("record"),
                reason,
                line=number,
            )
            return
        ledger.bad_lines += 1
        if message is None:
            # It may have been a record: keep the raw line in the dead-letter file.
            ledger.reject_line(None, line.rstrip("\n")[:100_000], reason, line=number)
            ledger.bad_lines -= 1
        self.logger.error("Input line not processed: %s: %.300s", reason, line.rstrip("\n"))
