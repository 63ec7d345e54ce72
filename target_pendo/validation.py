"""Record validation against the stream's SCHEMA: fastjsonschema first, jsonschema to decide.

The SDK validates every record with ``jsonschema`` (Draft 2020-12), which cost about 40% of
the target's CPU per record. ``fastjsonschema`` compiles the schema to Python code and accepts
a valid record about ten times faster. It only ever *accepts*: when it objects, or when the
schema uses anything whose meaning differs between its Draft 7 and the SDK's Draft 2020-12,
the SDK's own validator decides and its error (message and field path) is the one reported,
exactly as without the fast path.
"""

from __future__ import annotations

from typing import Any

import fastjsonschema
from singer_sdk.sinks.core import BaseJSONSchemaValidator, JSONSchemaValidator
from typing_extensions import override

# Keywords that fastjsonschema (Draft 7) checks exactly as jsonschema does under Draft 2020-12
# (annotations included). A schema using any other keyword is validated by the SDK's validator
# alone: $ref/$defs, prefixItems, unevaluated*, dependent*, minContains, array-form `items`,
# and also enum/const/uniqueItems (fastjsonschema compares with ==, so True would pass an
# enum of 1), multipleOf (float arithmetic) and pattern/patternProperties/propertyNames
# (fastjsonschema rewrites some regex classes).
_SAME_IN_BOTH_DRAFTS = frozenset(
    {
        "type",
        "properties",
        "additionalProperties",
        "required",
        "items",
        "anyOf",
        "oneOf",
        "allOf",
        "not",
        "if",
        "then",
        "else",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "format",
        "minItems",
        "maxItems",
        "contains",
        "minProperties",
        "maxProperties",
        "title",
        "description",
        "default",
        "examples",
        "$comment",
        "readOnly",
        "writeOnly",
        "deprecated",
        "$schema",
    }
)
_SUBSCHEMA_MAPS = ("properties",)
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf")
_SUBSCHEMA = ("additionalProperties", "items", "not", "if", "then", "else", "contains")


def same_in_both_drafts(schema: Any) -> bool:
    """True when Draft 7 and Draft 2020-12 validate the same records against `schema`."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict) or not _SAME_IN_BOTH_DRAFTS.issuperset(schema):
        return False
    if (
        "$schema" in schema
        and "2020-12" not in str(schema["$schema"])
        and "draft-07" not in str(schema["$schema"])
    ):
        return False
    for key in _SUBSCHEMA_MAPS:
        sub = schema.get(key, {})
        if not isinstance(sub, dict) or not all(same_in_both_drafts(s) for s in sub.values()):
            return False
    for key in _SUBSCHEMA_LISTS:
        sub = schema.get(key, [])
        if not isinstance(sub, list) or not all(same_in_both_drafts(s) for s in sub):
            return False
    return all(same_in_both_drafts(schema[key]) for key in _SUBSCHEMA if key in schema)


class RecordValidator(BaseJSONSchemaValidator):
    """Raises the SDK's ``InvalidRecord`` for a record that does not match the schema."""

    def __init__(self, schema: dict[str, Any], *, validate_formats: bool = False) -> None:
        super().__init__(schema)
        # Built first: checks the schema and raises InvalidJSONSchema exactly as the SDK does.
        self.reference = JSONSchemaValidator(schema, validate_formats=validate_formats)
        self.fast = None
        if not validate_formats and same_in_both_drafts(schema):
            body = {k: v for k, v in schema.items() if k != "$schema"}
            try:
                self.fast = fastjsonschema.compile(
                    body, use_default=False, use_formats=False, detailed_exceptions=False
                )
            except (fastjsonschema.JsonSchemaDefinitionException, SyntaxError, RecursionError):
                # A deeply nested schema makes fastjsonschema generate code Python cannot
                # compile (IndentationError, "too many statically nested blocks").
                self.fast = None

    @override
    def validate(self, record: dict[str, Any]) -> None:
        if self.fast is not None:
            try:
                self.fast(record)
            except fastjsonschema.JsonSchemaValueException:
                pass
            else:
                return
        self.reference.validate(record)
