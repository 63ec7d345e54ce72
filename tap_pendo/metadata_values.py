"""Metadata `time`/`date` values read back as epoch milliseconds, whatever form Pendo returns.

The schemas type these fields as epoch-ms integers (`schemas.ms`). Pendo documents ISO 8601
for writing a date value, and target-pendo writes ISO by default; whether Pendo then returns
such a value as epoch ms or as the string written is undocumented. So every form is read: an
int passes unchanged, an ISO 8601 date-time (with or without fractional seconds, `Z` or an
offset; naive means UTC), a bare date (midnight UTC) or a digits-only string becomes epoch ms.
A value that is none of these (a boolean included) is emitted as null, so a typed target
never fails on it, and logged once per stream and field, naming its kind and length only:
a field value is customer data.
"""

from __future__ import annotations

import logging
import math
import typing as t
from dataclasses import dataclass, field

from pendo_http.times import datetime_to_ms, parse_iso

TIME_TYPES = frozenset({"time", "date"})
LIST_TYPES = frozenset({"list", "array"})


class NotADate(ValueError):
    """A metadata time value that cannot be read as a point in time."""


@dataclass(frozen=True)
class TimeField:
    """One metadata field typed `time`/`date` (or a list of them) in Pendo's schema."""

    group: str
    name: str
    is_list: bool = False

    @property
    def path(self) -> str:
        """The field's path in a record: `metadata.<group>.<name>`."""
        return f"metadata.{self.group}.{self.name}"


def _type_of(descriptor: t.Any, key: str) -> str:
    return str(descriptor.get(key) or "").strip().lower() if isinstance(descriptor, dict) else ""


def time_fields(groups: dict[str, t.Any] | None) -> tuple[TimeField, ...]:
    """The `time`/`date` fields (and lists of them) of one kind's metadata schema.

    Args:
        groups: The kind's `metadata/schema` answer: group -> field -> descriptor.

    Returns:
        One `TimeField` per such field, in the schema's order.
    """
    found: list[TimeField] = []
    for group, fields in (groups or {}).items():
        if not isinstance(fields, dict):
            continue
        for name, descriptor in fields.items():
            kind = _type_of(descriptor, "Type")
            if kind in TIME_TYPES:
                found.append(TimeField(group, name))
            elif kind in LIST_TYPES and _type_of(descriptor, "ElementType") in TIME_TYPES:
                found.append(TimeField(group, name, is_list=True))
    return tuple(found)


def describe(value: t.Any) -> str:
    """What a value is, without the value itself: its kind and, for text, its length."""
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if isinstance(value, bool):
        return "a boolean"
    return f"a value of type {type(value).__name__}"


def to_epoch_ms(value: t.Any) -> int | None:
    """One metadata time value as epoch milliseconds (None stays None).

    Args:
        value: The value as Pendo returned it.

    Returns:
        The value in epoch ms: ints unchanged, floats floored to whole ms, ISO 8601 strings
        (date-times or bare dates) and digits-only strings converted.

    Raises:
        NotADate: The value is not a point in time (a boolean, an object, other text).
    """
    if value is None:
        return None
    if isinstance(value, bool):  # an int in Python, but not a date
        raise NotADate(describe(value))
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotADate(describe(value))
        return math.floor(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        try:
            # Pendo documents ISO 8601 for writing date values; whether reads return it as
            # written is undocumented, so both are read.
            return datetime_to_ms(parse_iso(text))
        except (ValueError, OverflowError):
            raise NotADate(describe(value)) from None
    raise NotADate(describe(value))


@dataclass
class TimeValueReader:
    """Reads one stream's metadata time values as epoch ms, in place, record by record.

    Values that are not dates become null; the first of each field is logged with the
    stream, the field, the record's id and the value's kind, and all are counted.
    """

    stream: str
    id_field: str
    fields: tuple[TimeField, ...]
    logger: logging.Logger
    nulled: int = 0
    warned: set[str] = field(default_factory=set)

    def convert(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        """Convert the record's metadata time values to epoch ms (the record is changed).

        Args:
            record: A visitor or account row as Pendo returned it.

        Returns:
            The same record.
        """
        metadata = record.get("metadata")
        if not isinstance(metadata, dict):
            return record
        for time_field in self.fields:
            group = metadata.get(time_field.group)
            if not isinstance(group, dict) or time_field.name not in group:
                continue
            value = group[time_field.name]
            if value is None or type(value) is int:
                continue
            if time_field.is_list:
                if isinstance(value, list):
                    group[time_field.name] = [self._read(x, time_field, record) for x in value]
            else:
                group[time_field.name] = self._read(value, time_field, record)
        return record

    def _read(self, value: t.Any, time_field: TimeField, record: dict[str, t.Any]) -> int | None:
        try:
            return to_epoch_ms(value)
        except NotADate as error:
            self.nulled += 1
            if time_field.path not in self.warned:
                self.warned.add(time_field.path)
                self.logger.warning(
                    "%s: %s of %s %r is not a date (%s); emitted as null. Other values of this "
                    "field that are not dates are nulled too, counted at the end of the stream.",
                    self.stream,
                    time_field.path,
                    self.id_field,
                    record.get(self.id_field),
                    error,
                )
            return None

    def summary(self) -> str | None:
        """The end-of-stream line, when some values were not dates (None otherwise)."""
        if not self.nulled:
            return None
        return (
            f"{self.stream}: {self.nulled} metadata time values were not dates and were "
            f"emitted as null ({', '.join(sorted(self.warned))})"
        )
