"""What each input stream becomes in Pendo: the `streams` setting, or inference from the name."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from target_pendo.convert import FALSE_STRINGS

OBJECTS = ("visitor", "account", "parent_account", "track_event")
ON_DELETE = ("ignore", "delete")
DELETABLE = ("visitor", "account")  # Pendo's bulk delete has no other kinds
DELETED_FIELD = "_sdc_deleted_at"  # the Singer convention for a deleted source row

# Input stream names that need no configuration.
INFERRED: dict[str, str] = {
    "visitors": "visitor",
    "visitor": "visitor",
    "accounts": "account",
    "account": "account",
    "parent_accounts": "parent_account",
    "parent_account": "parent_account",
    "track_events": "track_event",
    "track_event": "track_event",
    "events": "track_event",
}

ID_CANDIDATES: dict[str, tuple[str, ...]] = {
    "visitor": ("visitorId", "visitor_id", "id"),
    "account": ("accountId", "account_id", "id"),
    "parent_account": ("parentAccountId", "parent_account_id", "accountId", "account_id", "id"),
    "track_event": ("visitorId", "visitor_id"),
}

CONTEXT_KEYS = ("ip", "userAgent", "url", "title")
CONTEXT_CANDIDATES: dict[str, tuple[str, ...]] = {
    "ip": ("ip", "remoteIp", "remote_ip", "ip_address"),
    "userAgent": ("userAgent", "user_agent"),
    "url": ("url", "page_url"),
    "title": ("title", "page_title"),
}


class StreamConfigError(ValueError):
    """A stream the target cannot map to a Pendo object."""


HOW_TO = (
    'Add it to the `streams` setting, e.g. "streams": {{"{name}": {{"object": "visitor", '
    '"id_field": "user_id", "group": "custom", "fields": {{"plan_name": "plan"}}}}}} '
    "(object: visitor | account | parent_account | track_event), or name the stream "
    "visitors, accounts, parent_accounts or track_events."
)


@dataclass
class StreamSpec:
    """One input stream's mapping to Pendo."""

    stream: str
    object: str
    id_field: str | None = None
    group: str = "custom"
    create: bool = False
    fields: dict[str, str] | None = None  # source path -> Pendo field name; None = all
    ignore_unknown_fields: bool = False
    # track events
    event_field: str | None = None
    event_name: str | None = None
    timestamp_field: str | None = None
    account_field: str | None = None
    properties: dict[str, str] | None = None  # source path -> property name; None = default
    context_fields: dict[str, str] = field(default_factory=dict)  # Pendo key -> source path
    # deletions
    on_delete: str = "ignore"
    deleted_field: str = DELETED_FIELD

    @property
    def is_track(self) -> bool:
        return self.object == "track_event"


def _as_mapping(value: Any, what: str, stream: str) -> dict[str, str] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return {str(v): str(v) for v in value}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    msg = (
        f"Stream `{stream}`: `{what}` must be a list of field names or a mapping of "
        "source field to Pendo name."
    )
    raise StreamConfigError(msg)


def resolve_stream_spec(stream: str, streams_setting: dict[str, Any] | None) -> StreamSpec:
    """The spec for `stream`: its `streams` entry, the `*` entry, or inferred from the name."""
    setting = streams_setting or {}
    entry = setting.get(stream)
    if entry is None:
        inferred = INFERRED.get(stream.lower()) or INFERRED.get(stream.lower().rsplit("-", 1)[-1])
        if inferred is not None:
            entry = {"object": inferred}
        elif "*" in setting:
            entry = setting["*"]
        else:
            msg = (
                f"target-pendo does not know what to write for stream `{stream}`. "
                + HOW_TO.format(name=stream)
            )
            raise StreamConfigError(msg)
    if not isinstance(entry, dict):
        msg = f"Stream `{stream}`: its `streams` entry must be an object. " + HOW_TO.format(
            name=stream
        )
        raise StreamConfigError(msg)
    obj = entry.get("object") or INFERRED.get(stream.lower())
    if obj not in OBJECTS:
        msg = (
            f"Stream `{stream}`: `object` is {obj!r}; it must be one of {', '.join(OBJECTS)}. "
            + HOW_TO.format(name=stream)
        )
        raise StreamConfigError(msg)
    group = entry.get("group", "custom")
    if group not in ("custom", "agent"):
        msg = f"Stream `{stream}`: `group` is {group!r}; it must be `custom` or `agent`."
        raise StreamConfigError(msg)
    context = entry.get("context_fields") or {}
    if isinstance(context, list):
        context = {k: k for k in context}
    bad = [k for k in context if k not in CONTEXT_KEYS]
    if bad:
        msg = (
            f"Stream `{stream}`: `context_fields` keys must be among {', '.join(CONTEXT_KEYS)} "
            f"(got {bad})."
        )
        raise StreamConfigError(msg)
    if entry.get("event_field") and entry.get("event_name"):
        msg = f"Stream `{stream}`: set `event_field` or `event_name`, not both."
        raise StreamConfigError(msg)
    on_delete = entry.get("on_delete") or "ignore"
    if on_delete not in ON_DELETE:
        msg = f"Stream `{stream}`: `on_delete` is {on_delete!r}; it must be `ignore` or `delete`."
        raise StreamConfigError(msg)
    if on_delete == "delete" and obj not in DELETABLE:
        msg = (
            f"Stream `{stream}`: `on_delete: delete` works for visitor and account streams only "
            f"(this stream writes {obj} records): Pendo's bulk delete "
            "(POST /api/v1/bulkdelete/{visitor|account}) has no other kinds. Remove `on_delete` "
            "or set it to `ignore`: deleted records are then skipped and counted as "
            "`delete_ignored`."
        )
        raise StreamConfigError(msg)
    deleted_field = entry.get("deleted_field") or DELETED_FIELD
    if not isinstance(deleted_field, str):
        msg = f"Stream `{stream}`: `deleted_field` must be a field name."
        raise StreamConfigError(msg)
    return StreamSpec(
        stream=stream,
        object=obj,
        id_field=entry.get("id_field"),
        group=group,
        create=bool(entry.get("create", False)),
        fields=_as_mapping(entry.get("fields"), "fields", stream),
        ignore_unknown_fields=bool(entry.get("ignore_unknown_fields", False)),
        event_field=entry.get("event_field"),
        event_name=entry.get("event_name"),
        timestamp_field=entry.get("timestamp_field"),
        account_field=entry.get("account_field"),
        properties=_as_mapping(entry.get("properties"), "properties", stream),
        context_fields={str(k): str(v) for k, v in context.items()},
        on_delete=on_delete,
        deleted_field=deleted_field,
    )


NOT_DELETED_TEXTS = FALSE_STRINGS | {""}


def is_deletion(record: dict[str, Any], deleted_field: str) -> bool:
    """Whether `record` says its row was deleted: `deleted_field` holds a timestamp (Singer's
    `_sdc_deleted_at`) or a true flag. Absent, null, false, 0 and "false" mean not deleted.
    """
    found, value = get_path(record, deleted_field)
    if not found or value is None or value is False:
        return False
    if isinstance(value, str):
        return value.strip().lower() not in NOT_DELETED_TEXTS
    if isinstance(value, (int, float, Decimal)):
        return value != 0
    return True


def get_path(record: dict[str, Any], path: str) -> tuple[bool, Any]:
    """(found, value) for a field name or a dotted path into nested objects."""
    if path in record:
        return True, record[path]
    if "." not in path:
        return False, None
    current: Any = record
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return False, None
        current = current[part]
    return True, current


def pick_id_field(
    spec: StreamSpec, properties: dict[str, Any], key_properties: list[str] | None
) -> str | None:
    """The configured id field, else a single key property, else a conventional name."""
    if spec.id_field:
        return spec.id_field
    if not spec.is_track and key_properties and len(key_properties) == 1:
        return key_properties[0]
    for candidate in ID_CANDIDATES[spec.object]:
        if candidate in properties:
            return candidate
    return None
