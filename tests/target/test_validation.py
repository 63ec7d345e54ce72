"""The target's record validator (fastjsonschema first) decides exactly as the SDK's does.

A record the SDK's jsonschema validator rejects must still be rejected, with the same message
and field path (the dead-letter reason); a record it accepts must still be accepted.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from singer_sdk.exceptions import InvalidJSONSchema, InvalidRecord
from singer_sdk.sinks.core import JSONSchemaValidator

from target_pendo.validation import RecordValidator, same_in_both_drafts

NULLABLE = {
    "string": {"type": ["string", "null"]},
    "integer": {"type": ["integer", "null"]},
    "number": {"type": ["number", "null"]},
    "boolean": {"type": ["boolean", "null"]},
}

SCHEMAS: list[dict[str, Any]] = [
    {  # a typical tap SCHEMA: nullable scalars, a date-time, a nested object, an array
        "type": "object",
        "properties": {
            "visitorId": {"type": "string"},
            "plan": NULLABLE["string"],
            "seats": NULLABLE["integer"],
            "score": NULLABLE["number"],
            "isbeta": NULLABLE["boolean"],
            "seen": {"type": ["string", "null"], "format": "date-time"},
            "address": {
                "type": ["object", "null"],
                "properties": {"city": NULLABLE["string"], "zip": NULLABLE["integer"]},
            },
            "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        },
        "required": ["visitorId"],
    },
    {  # constraints and combinators
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "a": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "maxLength": 3}]},
            "b": {
                "type": "array",
                "items": {"type": "number", "exclusiveMaximum": 10},
                "maxItems": 2,
            },
            "c": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": {"type": "boolean"},
            },
            "d": {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 5}]},
            "e": {"not": {"type": "null"}},
        },
    },
]

KEYS = [
    "visitorId",
    "plan",
    "seats",
    "score",
    "isbeta",
    "seen",
    "address",
    "tags",
    "city",
    "zip",
    "a",
    "b",
    "c",
    "d",
    "e",
    "x",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 20),
    st.sampled_from(["", "ab", "abcd", "2024-01-01T00:00:00Z"]),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-20, max_value=20),
    st.sampled_from([Decimal("3.0"), 3.0, 12.5]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=8,
)
records = st.dictionaries(st.sampled_from(KEYS), values, max_size=6)


def outcome(validator: Any, record: dict) -> tuple[str, str, tuple] | None:
    """None when accepted, else the InvalidRecord message and the failing field path."""
    try:
        validator.validate(record)
    except InvalidRecord as error:
        cause = error.__cause__
        return str(error), getattr(cause, "message", ""), tuple(getattr(cause, "path", ()))
    return None


@pytest.mark.parametrize("schema", SCHEMAS, ids=["tap-schema", "constraints"])
@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(record=records)
def test_same_decision_and_same_reason_as_the_sdk(schema: dict, record: dict) -> None:
    ours = RecordValidator(schema)
    assert ours.fast is not None  # these schemas take the fast path
    assert outcome(ours, record) == outcome(JSONSchemaValidator(schema), record)


def test_a_schema_violation_names_the_field() -> None:
    ours = RecordValidator(SCHEMAS[0])
    got = outcome(ours, {"visitorId": "v1", "seats": "many"})
    assert got is not None
    assert got[1] == "'many' is not of type 'integer', 'null'" and got[2] == ("seats",)
    assert outcome(ours, {"visitorId": "v1", "seats": 3, "score": Decimal("0.5")}) is None


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"n": {"enum": [1, 2]}}},  # fastjsonschema: True == 1
        {
            "type": "object",
            "properties": {"n": {"$ref": "#/$defs/n"}},
            "$defs": {"n": {"type": "integer"}},
        },
        {
            "type": "object",
            "properties": {"n": {"type": "array", "prefixItems": [{"type": "integer"}]}},
        },
        {"type": "object", "properties": {"n": {"type": "string", "pattern": "^\\d+$"}}},
    ],
    ids=["enum", "ref", "prefixItems", "pattern"],
)
def test_keywords_that_differ_between_drafts_use_the_sdk_validator_alone(schema: dict) -> None:
    assert not same_in_both_drafts(schema)
    ours = RecordValidator(schema)
    assert ours.fast is None
    for record in ({"n": True}, {"n": [True]}, {"n": "٣"}, {"n": 1}, {"n": ["x"]}):
        assert outcome(ours, record) == outcome(JSONSchemaValidator(schema), record)


def test_an_invalid_schema_is_refused_as_the_sdk_refuses_it() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "array", "items": [{"type": "integer"}]}},
    }
    assert not same_in_both_drafts(schema)  # Draft 7 tuple form; not a schema under 2020-12
    with pytest.raises(InvalidJSONSchema):
        JSONSchemaValidator(schema)
    with pytest.raises(InvalidJSONSchema):
        RecordValidator(schema)


def test_date_time_format_is_not_checked_unless_the_sdk_would() -> None:
    """The SDK validates formats only with validate_field_string_format; neither do we."""
    ours = RecordValidator(SCHEMAS[0])
    assert outcome(ours, {"visitorId": "v", "seen": "not a date"}) is None
    strict = RecordValidator(SCHEMAS[0], validate_formats=True)
    assert strict.fast is None
    record = {"visitorId": "v", "seen": "not a date"}
    assert outcome(strict, record) == outcome(
        JSONSchemaValidator(SCHEMAS[0], validate_formats=True), record
    )
