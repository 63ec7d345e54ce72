"""Value conversion: Singer values (Decimal, datetime, strings) to what Pendo's API expects.

Metadata values are converted to the type of the Pendo field they are written to
(`GET /api/v1/metadata/schema/{kind}` -> `Type`: string, boolean, integer, float, time,
list, or "" when unset). A value that cannot be converted raises ConversionError, and
the record goes to the dead-letter file naming the field and the reason.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from pendo_http.jsonbody import json_bytes
from pendo_http.times import ms_to_iso as iso_from_ms

# Epoch numbers below this are seconds, above it milliseconds: 1e11 s is the year 5138,
# 1e11 ms is 1973-03-03, so any real event time is unambiguous.
EPOCH_SECONDS_LIMIT = 100_000_000_000

TRUE_STRINGS = frozenset({"true", "t", "yes", "y", "1", "on"})
FALSE_STRINGS = frozenset({"false", "f", "no", "n", "0", "off"})

# shared/pendo-api.md §5: property names must be letters, digits or underscores, at most
# 32 characters, not starting with a digit, not `__x__`; others "don't display in Pendo".
_PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_PROPERTY_NAME = 32
MAX_PROPERTIES_JSON_BYTES = 512
TRACK_MAX_AGE = dt.timedelta(days=7)


class ConversionError(ValueError):
    """A value that cannot become what Pendo expects."""


def json_safe(value: Any) -> Any:
    """A value plain JSON can hold: Decimal -> int/float, datetimes -> ISO 8601 strings."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return _decimal_number(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [json_safe(v) for v in value]
    return str(value)


INT64_RANGE = range(-(2**63), 2**63)


def strict_json(value: Any) -> Any:
    """Like json_safe, for values sent to Pendo: NaN and Infinity are errors (never a silent
    null), and a whole number beyond 64 bits goes as a float, or is an error when even a
    float cannot hold it (1e400 was sent as a 401-digit integer).
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (float, Decimal)):
        if not (math.isfinite(value) if isinstance(value, float) else value.is_finite()):
            raise ConversionError(f"{value} is not a finite number (NaN/Infinity cannot be sent)")
        if isinstance(value, float):
            return value
        value = _decimal_number(value)
        if isinstance(value, float):
            return value
    if isinstance(value, int):
        if value in INT64_RANGE:
            return value
        as_float = float(value) if value.bit_length() < 1024 else math.inf
        if not math.isfinite(as_float):
            raise ConversionError(f"a number of {len(str(abs(value)))} digits is out of range")
        return as_float
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [strict_json(v) for v in value]
    return json_safe(value)


def dumps(value: Any) -> bytes:
    """JSON bytes for any record (dead letters, logs)."""
    return json_bytes(value, default=_orjson_default)


def _orjson_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _decimal_number(value)
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def _decimal_number(value: Decimal) -> int | float | None:
    if not value.is_finite():
        return None
    if value == value.to_integral_value():
        return int(value)
    return float(value)


# -- time ----------------------------------------------------------------------------------


def parse_datetime(value: str) -> dt.datetime:
    """An ISO 8601 date or date-time string as an aware datetime (naive means UTC)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
        except ValueError:
            raise ConversionError(f"{value!r} is not an ISO 8601 date or date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


# A time outside these years is a bad value, not an event or a date (a 40-digit number read
# as epoch milliseconds was sent as is).
EPOCH_MS_MIN = 0
EPOCH_MS_MAX = 7_258_118_400_000  # 2200-01-01T00:00:00Z


def to_epoch_ms(value: Any) -> int:
    """Epoch milliseconds from a datetime, a date, an ISO string or an epoch s/ms number,
    between 1970 and 2200.
    """
    ms = _epoch_ms(value)
    if not EPOCH_MS_MIN <= ms < EPOCH_MS_MAX:
        raise ConversionError(f"{value!r} is a time outside the years 1970-2200")
    return ms


def _epoch_ms(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        raise ConversionError(f"{value!r} is not a time")
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return int(round(moment.timestamp() * 1000))
    if isinstance(value, dt.date):
        return _epoch_ms(dt.datetime.combine(value, dt.time(), tzinfo=dt.timezone.utc))
    if isinstance(value, (int, float, Decimal)):
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite():
            raise ConversionError(f"{value!r} is not a time")
        if abs(number) < EPOCH_SECONDS_LIMIT:
            number *= 1000
        return int(number.to_integral_value())
    if isinstance(value, str):
        text = value.strip()
        try:
            return _epoch_ms(Decimal(text))
        except (InvalidOperation, ConversionError):
            pass
        return _epoch_ms(parse_datetime(text))
    raise ConversionError(f"{type(value).__name__} value {value!r} is not a time")


# -- metadata field types -------------------------------------------------------------------


def to_boolean(value: Any) -> bool:
    """`value` as a Pendo boolean; ConversionError for anything but a clear true/false."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal)) and value in (0, 1):
        return bool(value)
    if isinstance(value, float) and value in (0.0, 1.0):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in TRUE_STRINGS:
            return True
        if text in FALSE_STRINGS:
            return False
    raise ConversionError(f"{value!r} is not a boolean (true/false)")


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ConversionError(f"{value!r} is a boolean, not a number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip().replace(",", "")) if value.strip() else Decimal("nan")
        except InvalidOperation:
            raise ConversionError(f"{value!r} is not a number") from None
    else:
        raise ConversionError(f"{type(value).__name__} value {value!r} is not a number")
    if not number.is_finite():
        raise ConversionError(f"{value!r} is not a finite number")
    return number


def to_integer(value: Any) -> int:
    """`value` as a whole number; ConversionError for a fraction or a non-number."""
    number = _to_decimal(value)
    if number != number.to_integral_value():
        raise ConversionError(f"{value!r} is not a whole number")
    if int(number) not in INT64_RANGE:
        raise ConversionError(
            f"{value!r} is outside the 64-bit integer range of a Pendo integer field"
        )
    return int(number)


def to_float(value: Any) -> float | int:
    """`value` as a number (a whole one within 2**53 stays an int)."""
    number = _to_decimal(value)
    if number == number.to_integral_value() and abs(number) < 2**53:
        return int(number)
    return float(number)


def to_text(value: Any) -> str:
    """`value` as a Pendo string."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(strict_json(value))
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return json_bytes(strict_json(value)).decode()


def to_time(value: Any, time_format: str) -> int | str:
    """`value` as a Pendo time in `time_format` (`epoch_ms`, else ISO 8601 in UTC)."""
    ms = to_epoch_ms(value)
    return ms if time_format == "epoch_ms" else iso_from_ms(ms)


def to_list(value: Any) -> list[Any]:
    """`value` as a Pendo list (a single value becomes a list of one)."""
    if isinstance(value, (list, tuple, set)):
        return [strict_json(v) for v in value]
    return [strict_json(value)]


def convert_metadata_value(value: Any, pendo_type: str, *, time_format: str = "epoch_ms") -> Any:
    """`value` as the Pendo field type `pendo_type` expects; ConversionError if impossible."""
    if value is None:
        return None
    kind = (pendo_type or "").lower()
    if kind in ("string", "text"):
        return to_text(value)
    if kind == "boolean":
        return to_boolean(value)
    if kind in ("integer", "int", "number"):
        return to_integer(value)
    if kind in ("float", "double"):
        return to_float(value)
    if kind in ("time", "date", "datetime"):
        return to_time(value, time_format)
    if kind == "list":
        return to_list(value)
    # "" (type not set yet) or a type we do not know: send the value as JSON has it.
    if isinstance(value, (dt.datetime, dt.date)):
        return to_time(value, time_format)
    return strict_json(value)


# -- track events ---------------------------------------------------------------------------


def hidden_property_reason(name: str) -> str | None:
    """Why Pendo would hide an event property of this name, or None when it is fine."""
    if len(name) > MAX_PROPERTY_NAME:
        return f"longer than {MAX_PROPERTY_NAME} characters"
    if name.startswith("__") and name.endswith("__") and len(name) >= 4:
        return "begins and ends with double underscores"
    if name[:1].isdigit():
        return "starts with a digit"
    if not _PROPERTY_NAME.match(name):
        return "has characters other than letters, digits and underscores"
    return None
