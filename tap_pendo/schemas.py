"""JSON schemas of the entity streams.

Records keep Pendo's own camelCase field names and nesting. Every timestamp Pendo sends is
epoch milliseconds and stays an integer (lossless, and exactly the value Pendo filters on),
so the schemas type them `integer` and describe them as epoch ms. Objects allow additional
properties: Pendo adds fields over time and they should reach the target, not be dropped.
"""

from __future__ import annotations

import typing as t

EPOCH_MS = "Epoch milliseconds (UTC)."


def nullable(*types: str, **extra: t.Any) -> dict[str, t.Any]:
    """A schema of the given JSON types or null, with any `extra` keywords."""
    return {"type": [*types, "null"], **extra}


def ms(description: str = EPOCH_MS) -> dict[str, t.Any]:
    """A nullable epoch-milliseconds integer."""
    return nullable("integer", description=description)


STRING = nullable("string")
BOOLEAN = nullable("boolean")
INTEGER = nullable("integer")
NUMBER = nullable("number")
# Anything JSON: for values Pendo does not type (metadata fields with an empty or unknown Type).
# target-postgres maps a multi-type property that includes object/array to JSONB,
# which keeps it all.
ANY = {"type": ["string", "number", "boolean", "array", "object", "null"]}
OPEN_OBJECT = {"type": ["object", "null"], "additionalProperties": True}
OPEN_ARRAY = {"type": ["array", "null"], "items": {}}


def obj(
    properties: dict[str, t.Any], *, required: list[str] | None = None, nullable_: bool = True
) -> dict[str, t.Any]:
    """An object schema that keeps properties Pendo adds (additionalProperties)."""
    schema: dict[str, t.Any] = {
        "type": ["object", "null"] if nullable_ else "object",
        "properties": properties,
        "additionalProperties": True,
    }
    if required:
        schema["required"] = required
    return schema


USER = obj(
    {
        "id": STRING,
        "username": STRING,
        "first": STRING,
        "last": STRING,
        "role": INTEGER,
        "userType": STRING,
        "hasLoggedIn": BOOLEAN,
        "lastLogin": ms(),
        "deletedAt": ms(),
        "visitorIds": nullable("array", items={"type": "string"}),
    }
)

GROUP = obj(
    {
        "id": STRING,
        "name": STRING,
        "description": STRING,
        "color": STRING,
        "length": INTEGER,
        "type": STRING,
        "items": OPEN_ARRAY,
        "createdAt": ms(),
        "createdByUser": USER,
        "lastUpdatedAt": ms(),
        "lastUpdatedByUser": USER,
    }
)

# Fields every page, feature, guide, track type and report shares (pendo-api.md §2.2).
ENVELOPE: dict[str, t.Any] = {
    "id": {"type": "string"},
    "name": STRING,
    "kind": STRING,
    "appId": INTEGER,
    "createdAt": ms(),
    "createdByUser": USER,
    "lastUpdatedAt": ms("Epoch milliseconds (UTC) of the last change: the replication key."),
    "lastUpdatedByUser": USER,
    "rootVersionId": STRING,
    "stableVersionId": STRING,
    "dirty": BOOLEAN,
    "color": STRING,
    "group": GROUP,
    "isCoreEvent": BOOLEAN,
    "validThrough": ms(),
    "dailyMergeFirst": ms(),
    "dailyRollupFirst": ms(),
}


def entity(extra: dict[str, t.Any]) -> dict[str, t.Any]:
    """A Pendo object: the common envelope (id, name, app, created and updated) and `extra`."""
    return obj({**ENVELOPE, **extra}, required=["id"], nullable_=False)


PAGE = entity(
    {
        "rules": nullable(
            "array", items=obj({"rule": STRING, "designerHint": STRING, "parsedRule": STRING})
        ),
        "rulesjson": STRING,
        "isAutoTagged": BOOLEAN,
        "suggestedName": STRING,
    }
)

FEATURE = entity(
    {
        "pageId": STRING,
        "elementPathRules": nullable("array", items={"type": ["string", "null"]}),
        "elementInitialTag": STRING,
        "elementSelectionType": STRING,
        "eventPropertyConfigurations": nullable("array", items=OPEN_OBJECT),
        "appWide": BOOLEAN,
        "createdDesignerVersion": STRING,
        "suggestedMatch": STRING,
    }
)

# A guide's step, as nested in `guides` and as a row of `guide_steps`.
GUIDE_STEP_FIELDS: dict[str, t.Any] = {
    "id": STRING,
    "guideId": STRING,
    "type": STRING,
    "pageId": STRING,
    "regexUrlRule": STRING,
    "elementPathRule": STRING,
    "contentType": STRING,
    "contentUrl": STRING,
    "contentUrlCss": STRING,
    "contentUrlJs": STRING,
    "rank": NUMBER,
    "advanceMethod": STRING,
    "attributes": OPEN_OBJECT,
    "lastUpdatedAt": ms(),
    "resetAt": ms(),
}

GUIDE = entity(
    {
        "state": STRING,
        "launchMethod": STRING,
        "isMultiStep": BOOLEAN,
        "steps": nullable(
            "array",
            items=obj(GUIDE_STEP_FIELDS),
        ),
        "attributes": OPEN_OBJECT,
        "audience": OPEN_ARRAY,
        "audienceUiHint": OPEN_OBJECT,
        "polls": nullable("array", items=OPEN_OBJECT),
        "publishedAt": ms(),
        "publishedEver": BOOLEAN,
        "resetAt": ms(),
        "recurrence": INTEGER,
        "showsAfter": ms(),
        "isModule": BOOLEAN,
        "isTopLevel": BOOLEAN,
        "isTraining": BOOLEAN,
        "authoredLanguage": STRING,
        "description": STRING,
        "editorType": STRING,
        "emailState": STRING,
        "conversion": OPEN_OBJECT,
        "currentFirstEligibleToBeSeenAt": ms(),
    }
)

TRACK_TYPE = entity(
    {
        "trackTypeName": STRING,
        "trackTypeRules": nullable("array", items={"type": ["string", "null"]}),
        "eventPropertyNameList": nullable("array", items={"type": ["string", "null"]}),
    }
)

REPORT = entity(
    {
        "type": STRING,
        "shared": BOOLEAN,
        "definition": OPEN_OBJECT,
        "aggregation": OPEN_OBJECT,
        "lastRunAt": ms(),
        "level": STRING,
        "scope": STRING,
        "target": STRING,
    }
)

METADATA_FIELD = obj(
    {
        "kind": {"type": "string", "description": "visitor, account or parentAccount."},
        "group": {
            "type": "string",
            "description": "agent, auto, custom, pendo, or an integration's group.",
        },
        "field": {"type": "string"},
        "Type": STRING,
        "DisplayName": STRING,
        "ElementType": STRING,
        "ElementFormat": STRING,
        "Dirty": BOOLEAN,
        "isHidden": BOOLEAN,
        "isDeleted": BOOLEAN,
        "isCalculated": BOOLEAN,
        "isPerApp": BOOLEAN,
        "isPromoted": BOOLEAN,
        "neverIndex": BOOLEAN,
        "sample": ANY,
    },
    required=["kind", "group", "field"],
    nullable_=False,
)

# Pendo metadata `Type` → JSON schema. `time` values are epoch ms integers in Pendo and are
# emitted unchanged, so they are integers here too (target-postgres: bigint).
_METADATA_TYPES: dict[str, dict[str, t.Any]] = {
    "string": STRING,
    "text": STRING,
    "boolean": BOOLEAN,
    "integer": INTEGER,
    "int": INTEGER,
    "float": NUMBER,
    "number": NUMBER,
    "time": ms(),
    "date": ms(),
}


def metadata_field_schema(descriptor: t.Any) -> dict[str, t.Any]:
    """The JSON schema of one metadata field from its `metadata/schema` descriptor."""
    kind = (
        str((descriptor or {}).get("Type") or "").strip().lower()
        if isinstance(descriptor, dict)
        else ""
    )
    if kind in _METADATA_TYPES:
        return dict(_METADATA_TYPES[kind])
    if kind in ("list", "array"):
        element = str(descriptor.get("ElementType") or "").strip().lower()
        item = _METADATA_TYPES.get(element, ANY)
        return nullable("array", items=item)
    return dict(ANY)  # "" (unset) or a type this tap does not know: keep every value


def metadata_schema(groups: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """The `metadata` object: one typed object per group, open to groups and fields not listed."""
    properties: dict[str, t.Any] = {}
    for group, fields in (groups or {}).items():
        if not isinstance(fields, dict):
            continue
        properties[group] = obj({name: metadata_field_schema(d) for name, d in fields.items()})
    auto = properties.setdefault("auto", obj({}))
    auto["properties"].setdefault("lastupdated", ms())
    return obj(properties)


def visitor_schema(groups: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """The visitors schema, its metadata typed from the subscription's visitor schema."""
    return obj(
        {
            "visitorId": {"type": "string"},
            "lastupdated": ms(
                "Copy of metadata.auto.lastupdated (epoch ms), the replication key; "
                "null when Pendo has none."
            ),
            "metadata": metadata_schema(groups),
        },
        required=["visitorId"],
        nullable_=False,
    )


def account_schema(groups: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """The accounts schema, its metadata typed from the subscription's account schema."""
    return obj(
        {
            "accountId": {"type": "string"},
            "lastupdated": ms(
                "Copy of metadata.auto.lastupdated (epoch ms), the replication key; "
                "null when Pendo has none."
            ),
            "metadata": metadata_schema(groups),
        },
        required=["accountId"],
        nullable_=False,
    )
