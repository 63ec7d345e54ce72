"""JSON schemas of the applications, segments and child streams (issue 13).

Child rows keep the nested object's own camelCase fields and add the parent's id and
`lastUpdatedAt` under the parent's name (`pageId`, `pageLastUpdatedAt`), so every version of a
parent keeps its own children.
"""

from __future__ import annotations

import typing as t

from tap_pendo.schemas import (
    BOOLEAN,
    GROUP,
    GUIDE_STEP_FIELDS,
    INTEGER,
    OPEN_ARRAY,
    OPEN_OBJECT,
    STRING,
    USER,
    ms,
    nullable,
    obj,
)

REQUIRED_STRING = {"type": "string"}
REQUIRED_INTEGER = {"type": "integer"}


def parent_ms(parent: str) -> dict[str, t.Any]:
    """The schema of a child row's copy of its parent's lastUpdatedAt."""
    return {
        "type": "integer",
        "description": f"The {parent}'s lastUpdatedAt (epoch ms): the replication key.",
    }


def child(parent: str, key: str, properties: dict[str, t.Any]) -> dict[str, t.Any]:
    """A child row: parent id, parent lastUpdatedAt, then the nested object's fields."""
    required = [f"{parent}Id", f"{parent}LastUpdatedAt", key]
    return obj(
        {
            f"{parent}Id": REQUIRED_STRING,
            f"{parent}LastUpdatedAt": parent_ms(parent),
            **properties,
        },
        required=required,
        nullable_=False,
    )


POSITION = {"type": "integer", "description": "Index of the rule in the parent's list."}

PAGE_RULE = child(
    "page",
    "position",
    {"position": POSITION, "rule": STRING, "designerHint": STRING, "parsedRule": STRING},
)
FEATURE_RULE = child("feature", "position", {"position": POSITION, "rule": STRING})
TRACK_TYPE_RULE = child("trackType", "position", {"position": POSITION, "rule": STRING})

GUIDE_STEP = child(
    "guide",
    "id",
    # `guideId` comes from the parent's key columns.
    {**{k: v for k, v in GUIDE_STEP_FIELDS.items() if k != "guideId"}, "id": REQUIRED_STRING},
)

POLL = child(
    "guide",
    "id",
    {
        "id": REQUIRED_STRING,
        "question": STRING,
        "attributes": obj(
            {
                "type": STRING,
                "display": STRING,
                "followUp": STRING,
                "maxLength": INTEGER,
                "placeholder": STRING,
            }
        ),
        "numericResponses": nullable("array", items={"type": ["number", "null"]}),
        "idResponses": OPEN_OBJECT,
        "resetAt": ms(),
    },
)

PRODUCT_AREA = obj(
    {
        **GROUP["properties"],
        "id": REQUIRED_STRING,
        "lastUpdatedAt": ms("Epoch milliseconds (UTC) of the last change: the replication key."),
        "appId": nullable(
            "integer",
            description="The app of the pages and features in the area; null when they span apps.",
        ),
    },
    required=["id"],
    nullable_=False,
)

PENDO_USER = obj({**USER["properties"], "id": REQUIRED_STRING}, required=["id"], nullable_=False)

VISITOR_ACCOUNT = obj(
    {
        "visitorId": REQUIRED_STRING,
        "accountId": REQUIRED_STRING,
        # Also keeps a non-key column in the row: target-duckdb's upsert fails on a table whose
        # every column is in the key (an UPDATE with nothing to set).
        "position": {
            "type": "integer",
            "description": "Index of the account in the visitor's metadata.auto.accountids.",
        },
        "visitorLastUpdatedAt": {
            "type": "integer",
            "description": (
                "The visitor's metadata.auto.lastupdated (epoch ms), the replication key; "
                "0 when Pendo has none."
            ),
        },
    },
    required=["visitorId", "visitorLastUpdatedAt", "accountId"],
    nullable_=False,
)

APPLICATION = obj(
    {
        "id": REQUIRED_INTEGER,
        "name": STRING,
        "displayName": STRING,
        "platform": STRING,
        "description": STRING,
        "createdAt": ms(),
        "createdByUser": USER,
        "lastUpdatedAt": ms("Epoch milliseconds (UTC) of the last change: the replication key."),
        "lastUpdatedByUser": USER,
    },
    required=["id"],
    nullable_=False,
)

SEGMENT = obj(
    {
        "id": REQUIRED_STRING,
        "name": STRING,
        "shared": BOOLEAN,
        "createdAt": ms(),
        "createdByUser": USER,
        "lastUpdatedAt": ms("Epoch milliseconds (UTC) of the last change: the replication key."),
        "lastUpdatedByUser": USER,
        "definition": OPEN_OBJECT,
        "pipeline": OPEN_ARRAY,
    },
    required=["id"],
    nullable_=False,
)
