"""Pendo's metadata schema of one kind: `GET /api/v1/metadata/schema/{kind}`, read and parsed once.

The answer is an object of groups (`custom`, `agent`, `auto`, ...), each an object of fields
whose descriptor carries the field's `Type` (`string`, `boolean`, `time`, ... or "" when
unset). Both plugins read it: the tap types the visitor and account metadata it emits and
lists every field; the target learns which fields exist and how to convert values for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pendo_http.client import PendoClient
from pendo_http.errors import (
    PendoAuthError,
    PendoFatalError,
    PendoRedirectError,
    PendoTLSError,
    PendoUnreachableError,
)

METADATA_KINDS = ("visitor", "account", "parentAccount")
# Kinds every subscription has; another (parent accounts) may be absent.
REQUIRED_KINDS = frozenset({"visitor", "account"})
# Failures no other read would get past: the caller stops instead of trying further kinds.
STOPPING_ERRORS: tuple[type[PendoFatalError], ...] = (
    PendoAuthError,
    PendoTLSError,
    PendoRedirectError,
    PendoUnreachableError,
)


def schema_path(kind: str) -> str:
    """The schema endpoint of a metadata kind."""
    return f"/api/v1/metadata/schema/{kind}"


@dataclass(frozen=True)
class MetadataSchema:
    """One kind's schema: `raw` as Pendo answered it, `groups` its groups that are objects."""

    kind: str
    raw: dict[str, Any]
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def parse(cls, kind: str, body: Any) -> MetadataSchema | None:
        """The schema in a response body, or None when the body is not an object of groups."""
        if not isinstance(body, dict):
            return None
        groups = {name: fields for name, fields in body.items() if isinstance(fields, dict)}
        return cls(kind, body, groups)

    def field_types(self, group: str) -> dict[str, str]:
        """Field name -> Pendo `Type` of one group's live fields (deleted ones left out)."""
        return {
            name: _type_of(desc)
            for name, desc in self.groups.get(group, {}).items()
            if not (isinstance(desc, Mapping) and (desc.get("isDeleted") or desc.get("is_deleted")))
        }


def _type_of(descriptor: Any) -> str:
    desc = descriptor if isinstance(descriptor, Mapping) else {}
    return str(desc.get("Type", desc.get("type", "")) or "")


def read_metadata_schema(
    client: PendoClient, kind: str, *, what: str | None = None
) -> MetadataSchema | None:
    """Read one kind's schema.

    Args:
        client: The client to read with (its key is the one checked).
        kind: `visitor`, `account`, or the parent-account kind.
        what: How the request is named in messages.

    Returns:
        The schema; None when the answer is not an object of groups, or when an optional kind
        (not visitor/account) is absent: only a third-party endpoint list names the
        parent-account schema, and a subscription without parent accounts may well answer
        403 or 404 there.

    Raises:
        PendoFatalError: one of STOPPING_ERRORS when no other read would succeed either;
            another for a refusal of this kind's read.
        PendoError: when Pendo did not answer within the retry budget.
    """
    path = schema_path(kind)
    try:
        body = client.get_json(path, what=what or f"metadata schema of {kind} (GET {path})")
    except PendoFatalError as error:
        if kind not in REQUIRED_KINDS and error.status in (403, 404):
            return None
        raise
    return MetadataSchema.parse(kind, body)
